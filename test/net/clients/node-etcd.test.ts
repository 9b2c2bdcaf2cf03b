// The npm client node-etcd (etcd v2 API), unchanged, against a 3-member raftsim cluster on loopback: set, get,
// compare-and-swap, in-order keys, TTLs, one-shot watches, the reconnecting watcher, synchronous calls, and
// failing over to the next member when the first one in its list is killed.
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../../net/cluster.ts';
import { leaderOf, sleep, startTestCluster, stopAllClusters } from '../server/helpers.ts';

interface EtcdNode {
  key: string;
  value?: string;
  dir?: boolean;
  ttl?: number;
  nodes?: EtcdNode[];
  modifiedIndex: number;
  createdIndex: number;
}
interface EtcdReply {
  action: string;
  node: EtcdNode;
  prevNode?: EtcdNode;
}
interface EtcdFailure extends Error {
  errorCode?: number;
  errors?: Array<{ server: string }>;
}
type Callback = (err: EtcdFailure | null, reply: EtcdReply, headers: Record<string, string>) => void;
interface Watcher {
  on(event: 'change', listener: (reply: EtcdReply) => void): Watcher;
  on(event: string, listener: (...args: unknown[]) => void): Watcher;
  stop(): void;
}
/** The part of node-etcd's surface this test uses (the package ships no types). */
interface NodeEtcd {
  set(key: string, value: string, options: Record<string, unknown>, cb: Callback): unknown;
  get(key: string, options: Record<string, unknown>, cb: Callback): unknown;
  del(key: string, options: Record<string, unknown>, cb: Callback): unknown;
  create(dir: string, value: string, options: Record<string, unknown>, cb: Callback): unknown;
  compareAndSwap(key: string, value: string, oldValue: string, options: Record<string, unknown>, cb: Callback): unknown;
  watch(key: string, options: Record<string, unknown>, cb: Callback): { abort(): void };
  watchIndex(key: string, index: number, options: Record<string, unknown>, cb: Callback): unknown;
  watcher(key: string, index: number | null, options?: Record<string, unknown>): Watcher;
  setSync(key: string, value: string, options?: Record<string, unknown>): { err: EtcdFailure | null; body: EtcdReply };
  getSync(key: string, options?: Record<string, unknown>): { err: EtcdFailure | null; body: EtcdReply };
}
const Etcd = createRequire(import.meta.url)('node-etcd') as new (hosts: string[], options?: Record<string, unknown>) => NodeEtcd;

/** A node-etcd call as a promise: resolves with the reply, rejects with node-etcd's error. */
function call(fn: (cb: Callback) => unknown): Promise<EtcdReply> {
  return new Promise((resolve, reject) => {
    fn((err, reply) => (err ? reject(err) : resolve(reply)));
  });
}

async function failure(promise: Promise<unknown>): Promise<EtcdFailure> {
  return promise.then(
    () => {
      throw new Error('expected node-etcd to report an error');
    },
    (err: EtcdFailure) => err,
  );
}

let cluster: LocalCluster;
let etcd: NodeEtcd;
const watchers: Watcher[] = [];

describe('node-etcd against a raftsim cluster', () => {
  beforeAll(async () => {
    cluster = await startTestCluster(3);
    // Followers first, so requests really go through forwarding.
    const leader = await leaderOf(cluster);
    const ordered = [...cluster.members.filter((m) => m.name !== leader), cluster.member(leader)];
    etcd = new Etcd(ordered.map((m) => m.clientUrl), { timeout: 5000 });
  });
  afterAll(async () => {
    for (const w of watchers) w.stop();
    await stopAllClusters();
  });

  it('sets, gets, compares-and-swaps and deletes a key', async () => {
    const set = await call((cb) => etcd.set('/greeting', 'hello', {}, cb));
    expect(set).toMatchObject({ action: 'set', node: { key: '/greeting', value: 'hello' } });
    expect(await call((cb) => etcd.get('greeting', {}, cb))).toMatchObject({ action: 'get', node: { value: 'hello', modifiedIndex: set.node.modifiedIndex } });
    expect(await call((cb) => etcd.get('greeting', { quorum: true }, cb))).toMatchObject({ node: { value: 'hello' } });
    const swapped = await call((cb) => etcd.compareAndSwap('greeting', 'bye', 'hello', {}, cb));
    expect(swapped).toMatchObject({ action: 'compareAndSwap', node: { value: 'bye' }, prevNode: { value: 'hello' } });
    const stale = await failure(call((cb) => etcd.compareAndSwap('greeting', 'again', 'hello', {}, cb)));
    expect(stale.errorCode).toBe(101);
    expect(stale.message).toBe('Compare failed');
    expect(await call((cb) => etcd.del('greeting', {}, cb))).toMatchObject({ action: 'delete', prevNode: { value: 'bye' } });
    expect((await failure(call((cb) => etcd.get('greeting', {}, cb)))).errorCode).toBe(100);
  });

  it('creates in-order keys and lists them sorted; keeps a TTL', async () => {
    const first = await call((cb) => etcd.create('jobs', 'one', {}, cb));
    const second = await call((cb) => etcd.create('jobs', 'two', {}, cb));
    expect(first.action).toBe('create');
    expect(second.node.createdIndex).toBeGreaterThan(first.node.createdIndex);
    const listing = await call((cb) => etcd.get('jobs', { recursive: true, sorted: true }, cb));
    expect(listing.node.dir).toBe(true);
    expect(listing.node.nodes?.map((n) => n.value)).toEqual(['one', 'two']);
    const leased = await call((cb) => etcd.set('lease', 'x', { ttl: 30 }, cb));
    expect(leased.node.ttl).toBe(30);
  });

  it('a one-shot watch hears the next change; watchIndex replays a past one', async () => {
    const seen = call((cb) => etcd.watch('watched', {}, cb));
    await sleep(200);
    const set = await call((cb) => etcd.set('watched', 'now', {}, cb));
    expect(await seen).toMatchObject({ action: 'set', node: { key: '/watched', value: 'now', modifiedIndex: set.node.modifiedIndex } });
    const replay = await call((cb) => etcd.watchIndex('watched', set.node.modifiedIndex, {}, cb));
    expect(replay).toMatchObject({ action: 'set', node: { value: 'now' } });
  });

  it('the watcher follows a directory change after change, in order', async () => {
    const changes: string[] = [];
    const watcher = etcd.watcher('feed', null, { recursive: true });
    watchers.push(watcher);
    watcher.on('change', (reply) => changes.push(`${reply.action} ${reply.node.key} ${reply.node.value ?? ''}`.trim()));
    await sleep(200);
    for (let i = 0; i < 5; i++) await call((cb) => etcd.set(`feed/item${i}`, `v${i}`, {}, cb));
    await call((cb) => etcd.del('feed/item0', {}, cb));
    for (let waited = 0; changes.length < 6 && waited < 10_000; waited += 50) await sleep(50);
    expect(changes).toEqual(['set /feed/item0 v0', 'set /feed/item1 v1', 'set /feed/item2 v2', 'set /feed/item3 v3', 'set /feed/item4 v4', 'delete /feed/item0']);
  });

  it('synchronous calls work too', () => {
    const set = etcd.setSync('sync', 'yes');
    expect(set.err).toBeNull();
    expect(set.body.node.value).toBe('yes');
    expect(etcd.getSync('sync').body.node.value).toBe('yes');
  });

  it('fails over to the next member when the first in its list is killed', async () => {
    const hosts = cluster.members.map((m) => m.clientUrl);
    const client = new Etcd(hosts, { timeout: 5000 });
    await cluster.stopMember(cluster.members[0]!.name, 'SIGKILL');
    try {
      const set = await call((cb) => client.set('/after-kill', 'still here', {}, cb));
      expect(set.node.value).toBe('still here');
      expect(await call((cb) => client.get('/after-kill', { quorum: true }, cb))).toMatchObject({ node: { value: 'still here' } });
    } finally {
      cluster.startMember(cluster.members[0]!.name);
      await cluster.waitHealthy(30_000);
    }
    // The restarted member serves what was written while it was down.
    const direct = new Etcd([hosts[0]!], { timeout: 5000 });
    expect(await call((cb) => direct.get('/after-kill', { quorum: true }, cb))).toMatchObject({ node: { value: 'still here' } });
  });
});
