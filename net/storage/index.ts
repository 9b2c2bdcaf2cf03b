export { WriteAheadLog, WalOpenError, segmentFileName, snapshotFileName } from './wal.ts';
export type { WalOptions, RecoveredState, PersistBatch, WalStats } from './wal.ts';
export { WalCorruptionError } from './format.ts';
export type { HardState, LogEntry, Snapshot } from './format.ts';
export { DataDirLockedError } from './lock.ts';
export { crc32c } from '../../core/codec/crc32c.ts';
