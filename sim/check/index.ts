// The checkers' public surface. A simulator run hands everything it recorded to `checkRun` and gets one
// verdict per checker; the pieces are exported for callers that need only one of them.
import type { RaftsimFile } from './formats.ts';
import type { CheckResult, EtcdInput, EtcdOutput, Operation } from './history.ts';
import { checkHistory, type LinearizabilityOptions, type LinearizabilityResult } from './linearizability.ts';
import { checkAckedWrites } from './durability.ts';
import { checkRaftSafety } from './raft-safety.ts';
import { checkTtl } from './ttl.ts';
import { checkWatches } from './watch.ts';

export * from './history.ts';
export { checkHistory, checkLinearizability, modelFor, relevantOperations } from './linearizability.ts';
export type { FailureEvidence, LinearizabilityOptions, LinearizabilityResult, PartitionResult, Verdict } from './linearizability.ts';
export type { Model } from './model.ts';
export { etcdModel, type EtcdKeyState } from './models/etcd.ts';
export { kvModel, type KvState } from './models/kv.ts';
export { registerModel, type RegisterState } from './models/register.ts';
export { checkAckedWrites, type AckedWritesOptions } from './durability.ts';
export { checkRaftSafety, type RaftSafetyOptions } from './raft-safety.ts';
export { checkTtl, type TtlOptions } from './ttl.ts';
export { checkLiveness, type LivenessInput } from './liveness.ts';
export { checkWatches, type WatchOptions } from './watch.ts';
export { renderReport, type ReportInput } from './report.ts';
export { FORMATS, FormatError, parseHistory, parseRaftsimFile, parseRaftsim, serializeRaftsim, type FormatName, type RaftsimFile } from './formats.ts';

export interface RunVerdict {
  /** Every checker held. */
  ok: boolean;
  linearizability: LinearizabilityResult;
  /** Raft safety, watches and TTL, for those the run has data for. */
  others: CheckResult[];
  /** One line per failing checker (empty when ok). */
  explanations: string[];
}

/**
 * Runs every checker the recorded run has data for: linearizability always; acknowledged-write durability for
 * etcd-model histories; Raft safety when there are samples or acknowledged writes; watches when there are events or watch records; TTLs when `ttl` options are given and
 * the history uses the etcd model. `unknown` linearizability counts as not ok.
 */
export function checkRun(run: RaftsimFile, options: LinearizabilityOptions = {}): RunVerdict {
  const linearizability = checkHistory(run.history, options);
  const others: CheckResult[] = [];
  if (run.raft.samples.length > 0 || run.raft.acked.length > 0) others.push(checkRaftSafety(run.raft));
  if (run.events.length > 0 || run.watches.length > 0) {
    others.push(checkWatches(run.events, run.watches, { historyCapacity: run.watchHistoryCapacity ?? 1000 }));
  }
  if (run.history.model === 'etcd') {
    const ops = run.history.ops as Operation<EtcdInput, EtcdOutput>[];
    // Implied by linearizability, but it names a lost write even when the search runs out of budget.
    others.push(checkAckedWrites(ops));
    if (run.ttl) others.push(checkTtl(ops, run.ttl));
  }
  const explanations = [
    ...(linearizability.verdict === 'linearizable' ? [] : [`linearizability: ${linearizability.verdict}: ${linearizability.explanation}`]),
    ...others.filter((r) => !r.ok).map((r) => r.summary),
  ];
  return { ok: explanations.length === 0, linearizability, others, explanations };
}
