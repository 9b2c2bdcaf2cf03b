// The etcd v2 conformance fixture (recorded from etcd 3.4) replayed through a single-member replica: requests
// parsed by core/api, executed by the replica (writes through Raft, expiry proposed by the leader on its 500 ms
// grid), replies rendered by core/api. Raft's bootstrap, no-op and expiry entries must consume no store index,
// or every X-Etcd-Index after them would differ from a fresh etcd's.
import { parseKeysRequest, renderKeysResponse, type KeysReply } from '../../../core/api/index.ts';
import type { StoreEvent } from '../../../core/kv/index.ts';
import { keysReplyOf } from '../../../core/replica/index.ts';
import type { ConformanceRequest } from '../../fixtures/etcd-v2/cases.ts';
import { normalizeResponse } from '../../fixtures/etcd-v2/normalize.ts';
import { START_MS, SYNC_INTERVAL_MS, type FixtureCase } from '../api/replay.ts';
import { ReplicaCluster, type ReplicaModule } from './driver.ts';


interface Detached {
  requestId: number | null;
  reply: KeysReply | null;
  startIndex: number;
  events: StoreEvent[];
}

/** Replays the fixture; returns one line per case that differs. */
export function replayThroughReplica(cases: FixtureCase[], module?: ReplicaModule): string[] {
  const member = 'm1';
  const cluster = new ReplicaCluster([member], { startMs: START_MS - 3000, ...(module === undefined ? {} : { module }) });
  cluster.elect();
  if (cluster.nowMs >= START_MS) throw new Error('the single member took too long to lead');
  const mismatches: string[] = [];
  const detached = new Map<string, Detached>();
  const byRequest = new Map<number, Detached>();
  let seen = 0;
  const collectReplies = (): void => {
    const replies = cluster.member(member).replies;
    for (; seen < replies.length; seen++) {
      const { id, reply } = replies[seen]!;
      const d = byRequest.get(id);
      if (d === undefined || reply.body.type !== 'watch') continue;
      d.events.push(reply.body.event);
    }
  };
  const advanceTo = (targetMs: number): void => {
    let grid = (Math.floor(cluster.nowMs / SYNC_INTERVAL_MS) + 1) * SYNC_INTERVAL_MS;
    while (grid <= targetMs) {
      cluster.tick(grid - cluster.nowMs);
      cluster.deliverAll();
      grid += SYNC_INTERVAL_MS;
    }
    if (cluster.nowMs < targetMs) cluster.tick(targetMs - cluster.nowMs);
    collectReplies();
  };
  const check = (c: FixtureCase, reply: KeysReply): void => {
    const rendered = renderKeysResponse(reply, { method: c.request.method });
    const got = normalizeResponse({ status: rendered.status, headers: rendered.headers, bodyText: rendered.body }, 0, c.request as ConformanceRequest, c.unorderedNodes === true);
    const want = { status: c.response.status, headers: c.response.headers, bodyText: c.response.bodyText };
    const mine = { status: got.status, headers: got.headers, bodyText: got.bodyText };
    if (JSON.stringify(want) !== JSON.stringify(mine)) mismatches.push(`${c.id}\n  want ${JSON.stringify(want)}\n  got  ${JSON.stringify(mine)}`);
  };

  for (const c of cases) {
    advanceTo(START_MS + c.atMs);
    if (c.collect !== null) {
      const d = detached.get(c.collect);
      if (d === undefined) throw new Error(`case ${c.id} collects ${c.collect}, which was never detached`);
      check(c, d.reply ?? { type: 'watch', startIndex: d.startIndex, events: d.events });
      continue;
    }
    const parsed = parseKeysRequest(c.request);
    if (!parsed.ok) {
      if (c.detach) detached.set(c.id, { requestId: null, reply: parsed.reply, startIndex: 0, events: [] });
      else check(c, parsed.reply);
      continue;
    }
    const requestId = cluster.request(member, parsed.request);
    cluster.deliverAll();
    const answer = cluster.replyTo(member, requestId);
    collectReplies();
    if (answer === undefined) {
      const registered = cluster.member(member).state.watches[String(requestId)];
      if (!c.detach || registered === undefined) {
        mismatches.push(`${c.id}: no reply, and etcd answered at once`);
        continue;
      }
      const d: Detached = { requestId, reply: null, startIndex: registered.startIndex, events: [] };
      detached.set(c.id, d);
      byRequest.set(requestId, d);
      continue;
    }
    const reply = keysReplyOf(parsed.request, answer);
    if (reply === null) {
      mismatches.push(`${c.id}: a keys request got a ${answer.body.type} reply`);
      continue;
    }
    if (c.detach) detached.set(c.id, { requestId, reply, startIndex: 0, events: [] });
    else check(c, reply);
  }
  return mismatches;
}
