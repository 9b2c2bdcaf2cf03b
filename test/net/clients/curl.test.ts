// The curl commands of etcd's v2 API documentation, unchanged, against a 3-member raftsim cluster on loopback.
// Writes go to a follower as often as to the leader: the replica forwards them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../../net/cluster.ts';
import { leaderOf, sleep, startTestCluster, stopAllClusters } from '../server/helpers.ts';
import { available, runTool, startBackground, stopAllBackground } from './tools.ts';

const hasCurl = available('curl');
if (!hasCurl) console.warn('skipping the curl client tests: curl is not installed (apt-get install curl)');

let cluster: LocalCluster;
let leaderUrl = '';
let followerUrl = '';

async function curl(...args: string[]): Promise<{ status: number; json: Record<string, any>; headers: string }> {
  const r = await runTool('curl', ['-s', '-i', ...args]);
  expect(r.code, r.stderr).toBe(0);
  const [head = '', body = ''] = r.stdout.split(/\r\n\r\n/);
  const status = Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1]);
  return { status, json: body.trim() === '' ? {} : (JSON.parse(body) as Record<string, any>), headers: head };
}

describe.skipIf(!hasCurl)('curl, as in etcd’s v2 documentation', () => {
  beforeAll(async () => {
    cluster = await startTestCluster(3);
    const leader = await leaderOf(cluster);
    leaderUrl = cluster.member(leader).clientUrl;
    followerUrl = cluster.members.find((m) => m.name !== leader)!.clientUrl;
  });
  afterAll(async () => {
    await stopAllBackground();
    await stopAllClusters();
  });

  it('sets, reads, changes and deletes a key (through a follower)', async () => {
    const set = await curl(`${followerUrl}/v2/keys/message`, '-XPUT', '-d', 'value=Hello world');
    expect(set.status).toBe(201);
    expect(set.json).toMatchObject({ action: 'set', node: { key: '/message', value: 'Hello world' } });
    expect(set.headers).toMatch(/X-Etcd-Index: \d+/);
    expect(set.headers).toMatch(/X-Raft-Index: \d+/);
    expect(set.headers).toMatch(/X-Raft-Term: \d+/);
    expect(set.headers).toMatch(/X-Etcd-Cluster-Id: [0-9a-f]+/);
    const get = await curl(`${leaderUrl}/v2/keys/message`);
    expect(get.json).toMatchObject({ action: 'get', node: { value: 'Hello world' } });
    const change = await curl(`${leaderUrl}/v2/keys/message`, '-XPUT', '-d', 'value=Hello etcd');
    expect(change.status).toBe(200);
    expect(change.json).toMatchObject({ action: 'set', node: { value: 'Hello etcd' }, prevNode: { value: 'Hello world' } });
    const del = await curl(`${followerUrl}/v2/keys/message`, '-XDELETE');
    expect(del.json).toMatchObject({ action: 'delete', node: { key: '/message' }, prevNode: { value: 'Hello etcd' } });
    expect((await curl(`${leaderUrl}/v2/keys/message`)).json).toMatchObject({ errorCode: 100, message: 'Key not found' });
  });

  it('expires a key set with a TTL', async () => {
    const set = await curl(`${followerUrl}/v2/keys/foo`, '-XPUT', '-d', 'value=bar', '-d', 'ttl=1');
    expect(set.json.node).toMatchObject({ value: 'bar', ttl: 1 });
    expect(typeof set.json.node.expiration).toBe('string');
    let gone = false;
    for (let i = 0; i < 60 && !gone; i++) {
      await sleep(100);
      gone = (await curl(`${followerUrl}/v2/keys/foo`)).status === 404;
    }
    expect(gone).toBe(true);
  });

  it('waits for a change with wait=true, and reads past changes with waitIndex', async () => {
    const watch = startBackground('curl', ['-s', `${followerUrl}/v2/keys/foo?wait=true`]);
    await sleep(300);
    const set = await curl(`${leaderUrl}/v2/keys/foo`, '-XPUT', '-d', 'value=bar');
    await watch.waitFor('"action":"set"');
    expect(JSON.parse(watch.output())).toMatchObject({ action: 'set', node: { key: '/foo', value: 'bar' } });
    const index = set.json.node.modifiedIndex as number;
    const past = await curl(`${leaderUrl}/v2/keys/foo?wait=true&waitIndex=${index}`);
    expect(past.json).toMatchObject({ action: 'set', node: { modifiedIndex: index } });
  });

  it('creates in-order keys, directories and guarded writes', async () => {
    const job1 = await curl(`${followerUrl}/v2/keys/queue`, '-XPOST', '-d', 'value=Job1');
    const job2 = await curl(`${leaderUrl}/v2/keys/queue`, '-XPOST', '-d', 'value=Job2');
    expect(job1.status).toBe(201);
    expect(job1.json.action).toBe('create');
    const listing = await curl(`${leaderUrl}/v2/keys/queue?recursive=true&sorted=true`);
    expect(listing.json.node.nodes.map((n: { value: string }) => n.value)).toEqual(['Job1', 'Job2']);
    expect(job2.json.node.key > job1.json.node.key).toBe(true);
    expect((await curl(`${followerUrl}/v2/keys/dir`, '-XPUT', '-d', 'dir=true')).json).toMatchObject({ action: 'set', node: { dir: true } });
    const exists = await curl(`${followerUrl}/v2/keys/queue/${job1.json.node.key.split('/').pop()}?prevExist=false`, '-XPUT', '-d', 'value=three');
    expect(exists.status).toBe(412);
    expect(exists.json.errorCode).toBe(105);
    const cas = await curl(`${followerUrl}/v2/keys/foo?prevValue=bar`, '-XPUT', '-d', 'value=baz');
    expect(cas.json).toMatchObject({ action: 'compareAndSwap', node: { value: 'baz' } });
  });

  it('reports leader and self statistics', async () => {
    const leaderStats = await curl(`${leaderUrl}/v2/stats/leader`);
    expect(Object.keys(leaderStats.json.followers)).toHaveLength(2);
    for (const f of Object.values(leaderStats.json.followers) as Array<{ counts: { success: number; fail: number }; latency: { average: number } }>) {
      expect(f.counts.success).toBeGreaterThan(0);
      expect(f.latency.average).toBeGreaterThanOrEqual(0);
    }
    const self = await curl(`${followerUrl}/v2/stats/self`);
    expect(self.json).toMatchObject({ state: 'StateFollower', leaderInfo: { leader: leaderStats.json.leader } });
    expect(self.json.recvAppendRequestCnt).toBeGreaterThan(0);
    expect((await curl(`${followerUrl}/v2/stats/leader`)).status).toBe(403);
    expect((await curl(`${leaderUrl}/v2/stats/store`)).json.setsSuccess).toBeGreaterThan(0);
  });
});
