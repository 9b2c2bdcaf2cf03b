// The replica's randomized property: client writes, compare-and-swaps and reads on three members while the
// test delivers messages in random order, drops and duplicates them, lets time pass and restarts members
// (disks keep what was persisted). Then the network heals and the cluster settles. It must hold that:
// - members that applied the same index have the same store digest there, and the same entry at each index;
// - every write answered `ok` is applied exactly once; every write answered `failed` is never applied;
//   no (origin, request id) is applied twice, whatever its outcome.
import fc from 'fast-check';
import { keysRequest } from '../../../core/api/index.ts';
import type { AppliedEntry } from '../../../core/replica/index.ts';
import { ReplicaCluster, type ReplicaModule } from './driver.ts';

const MEMBERS = ['a', 'b', 'c'];

export type Action =
  | { kind: 'write'; member: number; key: number; value: number }
  | { kind: 'cas'; member: number; key: number; expect: number; value: number }
  | { kind: 'read'; member: number; key: number; quorum: boolean }
  | { kind: 'deliver'; pick: number }
  | { kind: 'drop'; pick: number }
  | { kind: 'duplicate'; pick: number }
  | { kind: 'tick'; ms: number }
  | { kind: 'restart'; member: number }
  | { kind: 'isolate'; member: number }
  | { kind: 'heal' };

const member = fc.integer({ min: 0, max: 2 });
const key = fc.integer({ min: 0, max: 2 });
const value = fc.integer({ min: 0, max: 9 });
const pick = fc.nat({ max: 1000 });

export const actionArbitrary: fc.Arbitrary<Action> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('write' as const), member, key, value }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('cas' as const), member, key, expect: value, value }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('read' as const), member, key, quorum: fc.boolean() }) },
  { weight: 10, arbitrary: fc.record({ kind: fc.constant('deliver' as const), pick }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('drop' as const), pick }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), pick }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 400 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const), member }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('isolate' as const), member }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'heal' as const }) },
);

/** Runs one history; returns the first violated expectation, or null. */
export function runHistory(actions: Action[], module?: ReplicaModule): string | null {
  const c = new ReplicaCluster(MEMBERS, { replica: { snapshotEvery: 5, requestTimeoutMs: 800, forwardRetryMs: 100 }, ...(module === undefined ? {} : { module }) });
  const writes: Array<{ member: string; id: number }> = [];
  const digestAt = new Map<number, string>();
  const entryAt = new Map<number, AppliedEntry>();
  const describe = (e: AppliedEntry) => `${e.kind} ${e.origin ?? '-'}/${e.requestId ?? '-'}`;

  const observe = (): string | null => {
    for (const m of c.members.values()) {
      if (!m.up) continue;
      const digest = c.module.storeDigest(m.state.replicated.store);
      const seen = digestAt.get(m.state.applied);
      if (seen === undefined) digestAt.set(m.state.applied, digest);
      else if (seen !== digest) return `${m.id} has store digest ${digest} at applied index ${m.state.applied}, another member had ${seen}`;
    }
    return null;
  };

  for (const action of actions) {
    const at = (i: number) => MEMBERS[i]!;
    switch (action.kind) {
      case 'write':
        writes.push({ member: at(action.member), id: c.request(at(action.member), keysRequest('PUT', `/k${action.key}`, { value: String(action.value) })) });
        break;
      case 'cas':
        writes.push({
          member: at(action.member),
          id: c.request(at(action.member), keysRequest('PUT', `/k${action.key}`, { value: String(action.value), prevValue: String(action.expect) })),
        });
        break;
      case 'read':
        c.request(at(action.member), keysRequest('GET', `/k${action.key}`, { quorum: action.quorum }));
        break;
      case 'deliver':
        if (c.inflight.length > 0) c.deliverOne(action.pick % c.inflight.length);
        break;
      case 'drop':
        if (c.inflight.length > 0) c.inflight.splice(action.pick % c.inflight.length, 1);
        break;
      case 'duplicate':
        if (c.inflight.length > 0) c.inflight.push(structuredClone(c.inflight[action.pick % c.inflight.length]!));
        break;
      case 'tick':
        c.tick(action.ms);
        break;
      case 'restart':
        c.crash(at(action.member));
        c.restart(at(action.member));
        break;
      case 'isolate':
        c.isolate(at(action.member));
        break;
      case 'heal':
        c.heal();
        break;
    }
    const broken = observe();
    if (broken !== null) return broken;
  }
  // Heal: everything delivered in order, time passes, every member catches up.
  c.heal();
  for (let round = 0; round < 400; round++) {
    c.run(10);
    const broken = observe();
    if (broken !== null) return broken;
  }

  for (const m of c.members.values()) {
    for (const e of m.applied) {
      const other = entryAt.get(e.index);
      if (other === undefined) entryAt.set(e.index, e);
      else if (describe(other) !== describe(e)) return `index ${e.index}: ${m.id} applied ${describe(e)}, another member ${describe(other)}`;
    }
  }
  const appliedCount = new Map<string, number>();
  for (const e of entryAt.values()) {
    if (e.kind !== 'client') continue;
    const k = `${e.origin}/${e.requestId}`;
    appliedCount.set(k, (appliedCount.get(k) ?? 0) + 1);
  }
  for (const [k, n] of appliedCount) if (n > 1) return `${k} applied ${n} times`;
  for (const w of writes) {
    const reply = c.replyTo(w.member, w.id);
    const n = appliedCount.get(`${w.member}/${w.id}`) ?? 0;
    if (reply?.outcome === 'ok' && n !== 1) return `write ${w.member}/${w.id} answered ok but applied ${n} times`;
    if (reply?.outcome === 'failed' && n !== 0) return `write ${w.member}/${w.id} answered failed but applied`;
  }
  return null;
}

export const historyArbitrary = fc.array(actionArbitrary, { minLength: 20, maxLength: 150, size: 'max' });

export function replicaProperty(module?: ReplicaModule) {
  return fc.property(historyArbitrary, (actions) => {
    const broken = runHistory(actions, module);
    if (broken !== null) throw new Error(broken);
  });
}
