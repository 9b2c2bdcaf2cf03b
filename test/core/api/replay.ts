// Replays the recorded etcd v2 conformance script through the pure API: parseKeysRequest -> store (one
// member, simulated time, an expiry tick every 500 ms as etcd's leader proposes SYNC) -> renderKeysResponse.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import * as api from '../../../core/api/index.ts';
import type { HttpResponse, KeysReply } from '../../../core/api/index.ts';
import * as kv from '../../../core/kv/index.ts';
import type { StoreEvent } from '../../../core/kv/index.ts';

export const FIXTURE_PATH = resolve(import.meta.dirname, '../../fixtures/etcd-v2/conformance.json');

export interface FixtureRequest {
  method: string;
  path: string;
  query: string;
  body: string;
  contentType: string | null;
}

export interface FixtureCase {
  id: string;
  atMs: number;
  detach: boolean;
  collect: string | null;
  unorderedNodes?: boolean;
  request: FixtureRequest;
  response: { status: number; headers: Record<string, string>; body: unknown; bodyText: string };
}

export function loadFixture(): { cases: FixtureCase[]; recordedWith: string } | null {
  if (!existsSync(FIXTURE_PATH)) return null;
  return JSON.parse(readFileSync(FIXTURE_PATH, 'utf8')) as { cases: FixtureCase[]; recordedWith: string };
}

/** Simulated wall clock of the first case: any date after 2000 works (etcd ignores earlier expiries). */
export const START_MS = Date.UTC(2026, 10, 25, 8, 0, 0);
export const SYNC_INTERVAL_MS = 500;

export interface Mismatch {
  id: string;
  want: { status: number; headers: Record<string, string>; bodyText: string };
  got: { status: number; headers: Record<string, string>; bodyText: string };
}

/** What the fixture keeps of a reply: status, the two kept headers, and the body with expirations hidden
 * (and node lists sorted where etcd's order is random). */
function normalize(response: HttpResponse, unorderedNodes: boolean): { status: number; headers: Record<string, string>; bodyText: string } {
  const headers: Record<string, string> = {};
  for (const name of ['content-type', 'x-etcd-index']) {
    if (response.headers[name] !== undefined) headers[name] = response.headers[name]!;
  }
  let bodyText = response.body.replace(/"expiration":"[^"]*"/g, '"expiration":"<expiration>"');
  if (unorderedNodes) bodyText = sortNodeLists(bodyText);
  return { status: response.status, headers, bodyText };
}

function sortNodeLists(text: string): string {
  const sortDeep = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sortDeep);
    if (v !== null && typeof v === 'object') {
      const o = Object.fromEntries(Object.entries(v).map(([k, x]) => [k, sortDeep(x)]));
      if (Array.isArray(o.nodes)) (o.nodes as Array<{ key: string }>).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      return o;
    }
    return v;
  };
  return JSON.stringify(sortDeep(JSON.parse(text))) + '\n';
}

function expectedOf(c: FixtureCase, unorderedNodes: boolean) {
  const bodyText = unorderedNodes ? sortNodeLists(c.response.bodyText) : c.response.bodyText;
  return { status: c.response.status, headers: c.response.headers, bodyText };
}

interface PendingWatch {
  watchId: number;
  startIndex: number;
  stream: boolean;
  events: StoreEvent[];
  method: string;
}

export interface ReplayModules {
  kv: typeof kv;
  api: typeof api;
}

export function replay(cases: FixtureCase[], modules: ReplayModules = { kv, api }): Mismatch[] {
  const kvModule = modules.kv;
  const { parseKeysRequest, renderKeysResponse, replyOf } = modules.api;
  const store = kvModule.newStore();
  const mismatches: Mismatch[] = [];
  const detached = new Map<string, KeysReply | PendingWatch>();
  const byWatchId = new Map<number, PendingWatch>();
  let nextTickMs = START_MS + SYNC_INTERVAL_MS;

  const deliver = (deliveries: kv.WatchDelivery[]): void => {
    for (const d of deliveries) {
      const w = byWatchId.get(d.watchId);
      if (w !== undefined && (w.stream || w.events.length === 0)) w.events.push(d.event);
    }
  };
  const check = (c: FixtureCase, response: HttpResponse): void => {
    const unordered = c.unorderedNodes === true;
    const want = expectedOf(c, unordered);
    const got = normalize(response, unordered);
    if (JSON.stringify(want) !== JSON.stringify(got)) mismatches.push({ id: c.id, want, got });
  };

  for (const c of cases) {
    const nowMs = START_MS + c.atMs;
    while (nextTickMs <= nowMs) {
      deliver(kvModule.applyCommand(store, { kind: 'expire', timeMs: nextTickMs }).deliveries);
      nextTickMs += SYNC_INTERVAL_MS;
    }
    if (c.collect !== null) {
      const pending = detached.get(c.collect);
      if (pending === undefined) throw new Error(`case ${c.id} collects ${c.collect}, which was never detached`);
      const reply: KeysReply = 'type' in pending ? pending : { type: 'watch', startIndex: pending.startIndex, events: pending.events };
      check(c, renderKeysResponse(reply, { method: c.request.method }));
      continue;
    }
    const parsed = parseKeysRequest(c.request);
    let reply: KeysReply;
    if (!parsed.ok) {
      reply = parsed.reply;
    } else if (kvModule.isWatchRequest(parsed.request)) {
      const r = parsed.request;
      const w = kvModule.watch(store, r.path, r.recursive, r.stream, r.waitIndex);
      if (w.kind === 'error') reply = { type: 'error', error: w.error };
      else if (w.kind === 'event') reply = { type: 'watch', startIndex: w.startIndex, events: [w.event] };
      else {
        const pending: PendingWatch = { watchId: w.watchId, startIndex: w.startIndex, stream: r.stream, events: [], method: r.method };
        byWatchId.set(w.watchId, pending);
        if (!c.detach) throw new Error(`case ${c.id} waits without being detached: it would hang`);
        detached.set(c.id, pending);
        continue;
      }
    } else {
      const outcome = kvModule.applyCommand(store, { kind: 'request', request: parsed.request, timeMs: nowMs });
      deliver(outcome.deliveries);
      reply = replyOf(parsed.request, outcome.result!);
    }
    if (c.detach) detached.set(c.id, reply);
    else check(c, renderKeysResponse(reply, { method: c.request.method }));
  }
  return mismatches;
}
