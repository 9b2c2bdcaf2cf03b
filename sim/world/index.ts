// The simulated world's public surface, for drivers, scenarios and the trace tools.
export { Scheduler, SchedulerOverflowError, DEFAULT_MAX_QUEUE_SIZE, type SchedulerOptions } from './scheduler.ts';
export { RandomStream, RandomStreams, type StreamState } from './random.ts';
export { sampleLatency, validateLatency, type LatencyModel } from './latency.ts';
export { Network, DEFAULT_LINK, DEFAULT_MAX_NODES, linkPatchProblems, type LinkConfig, type LinkStats, type NetworkOptions, type NodeId } from './network.ts';
export {
  SimDisk,
  encodeRecord,
  decodeRecords,
  RECORD_HEADER_BYTES,
  DEFAULT_DISK_FAULTS,
  DEFAULT_SYNC_LATENCY,
  type DiskFaults,
  type DiskOptions,
  type DiskStats,
  type ReadResult,
  type RecordProblem,
} from './disk.ts';
export { LocalClock, type ClockOptions } from './clock.ts';
export {
  generateNemesis,
  validateNemesis,
  describeNemesis,
  type NemesisAction,
  type NemesisEvent,
  type NemesisFamily,
  type NemesisGeneratorOptions,
} from './nemesis.ts';
export { RunHash, fnv1a32, fnv1a64 } from './run-hash.ts';
export { crc32c } from '../../core/codec/crc32c.ts';
export {
  World,
  DEFAULT_MAX_EVENTS,
  NodeProgramError,
  firstDivergence,
  compareRuns,
  type Divergence,
  type SteppableWorld,
  type MessageCodec,
  type MembershipChange,
  type NodeContext,
  type NodeDisk,
  type NodeProgram,
  type ProcessStatus,
  type RunLimits,
  type RunResult,
  type TimerTag,
  type TrailEntry,
  type WorldOptions,
  type WorldSummary,
} from './world.ts';
