// Stream watches (`?wait=true&stream=true`) side by side with a real etcd 3.4: the fixture's recorder takes one
// reply per request, so streams, which send many and may never end, are compared here. Each system runs the same
// script; what a client sees (the status, X-Etcd-Index and the event lines with indexes relative to the script's
// first write, and whether the server ended the stream) must be the same.
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../../net/cluster.ts';
import { findEtcdBinary, startEtcd, type EtcdServer } from '../../support/etcd.ts';
import { http, leaderOf, sleep, startTestCluster, stopAllClusters } from './helpers.ts';

const etcdBin = findEtcdBinary();
if (etcdBin === null) console.warn('skipping the stream watch comparison: no etcd binary (apt-get install etcd-server or set ETCD_BIN)');

interface StreamSeen {
  status: number;
  /** The event lines, indexes made relative to the script's first write. */
  events: unknown[];
  /** Whether the server ended the response by itself. */
  ended: boolean;
  /** X-Etcd-Index (relative like the events): the store index when the watch began. */
  etcdIndex: number;
}

interface Stream {
  /** What the client saw so far. */
  seen(): StreamSeen;
  close(): void;
}

function openStream(base: string, path: string): Promise<Stream> {
  const url = new URL(base + path);
  return new Promise((resolve, reject) => {
    let status = 0;
    let etcdIndex = NaN;
    let text = '';
    let ended = false;
    const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname + url.search, agent: false }, (res) => {
      status = res.statusCode ?? 0;
      etcdIndex = Number(res.headers['x-etcd-index']);
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => (ended = true));
      res.on('error', () => {});
      resolve({ seen: () => ({ status, events: text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l)), ended, etcdIndex }), close: () => req.destroy() });
    });
    req.on('error', reject);
    req.end();
  });
}

/** Rewrites every index field as its distance from `base`, so two stores that started at other indexes compare. */
function relative(value: unknown, base: number): unknown {
  if (Array.isArray(value)) return value.map((v) => relative(v, base));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, (k === 'modifiedIndex' || k === 'createdIndex') && typeof v === 'number' ? v - base : relative(v, base)]),
  );
}

async function put(base: string, path: string, body: string): Promise<number> {
  const reply = await http(`${base}${path}`, { method: 'PUT', body });
  expect(reply.status, reply.body).toBeLessThan(300);
  return JSON.parse(reply.body).node.modifiedIndex as number;
}

/** Waits until `stream` shows `count` events (bounded), then a little more so that extra events would show too. */
async function settle(stream: Stream, count: number): Promise<void> {
  for (let i = 0; i < 150 && stream.seen().events.length < count; i++) await sleep(20);
  await sleep(300);
}

/** The script: a stream from the history, a live stream with two writes, and a recursive stream over a deleted directory. */
async function runScript(base: string): Promise<Record<string, StreamSeen>> {
  const first = await put(base, '/v2/keys/streams/history', 'value=a');
  await put(base, '/v2/keys/streams/history', 'value=b');
  const seen: Record<string, StreamSeen> = {};
  const rel = (s: StreamSeen): StreamSeen => ({ ...s, events: s.events.map((e) => relative(e, first)), etcdIndex: s.etcdIndex - first });

  const fromHistory = await openStream(base, `/v2/keys/streams/history?wait=true&stream=true&waitIndex=${first}`);
  await settle(fromHistory, 1);
  await put(base, '/v2/keys/streams/history', 'value=c');
  await settle(fromHistory, 2);
  seen.fromHistory = rel(fromHistory.seen());
  fromHistory.close();

  const live = await openStream(base, '/v2/keys/streams/live?wait=true&stream=true');
  await sleep(100);
  await put(base, '/v2/keys/streams/live', 'value=1');
  await put(base, '/v2/keys/streams/live', 'value=2');
  await settle(live, 2);
  seen.live = rel(live.seen());
  live.close();

  await put(base, '/v2/keys/streams/dir/a', 'value=x');
  const recursive = await openStream(base, '/v2/keys/streams/dir?wait=true&stream=true&recursive=true');
  await sleep(100);
  const removed = await http(`${base}/v2/keys/streams/dir?recursive=true`, { method: 'DELETE' });
  expect(removed.status, removed.body).toBe(200);
  await settle(recursive, 1);
  seen.deletedDirectory = rel(recursive.seen());
  recursive.close();
  return seen;
}

let etcd: EtcdServer;
let cluster: LocalCluster;
const results: { etcd?: Record<string, StreamSeen>; raftsim?: Record<string, StreamSeen> } = {};

describe.skipIf(etcdBin === null)('stream watches side by side with etcd 3.4', () => {
  beforeAll(async () => {
    [etcd, cluster] = await Promise.all([startEtcd({ name: 'streams' }), startTestCluster(3, { heartbeatIntervalMs: 100, electionTimeoutMs: 1000 })]);
    const leaderUrl = cluster.member(await leaderOf(cluster)).clientUrl;
    [results.etcd, results.raftsim] = await Promise.all([runScript(etcd.clientUrl), runScript(leaderUrl)]);
  });

  afterAll(async () => {
    await Promise.all([etcd?.stop(), stopAllClusters()]);
  });

  it('a stream from the history gets that one event and stays open with nothing more, as etcd does', () => {
    const e = results.etcd!.fromHistory!;
    expect(e).toMatchObject({ status: 200, ended: false });
    expect(Number.isFinite(e.etcdIndex)).toBe(true);
    expect(e.events.map((x) => (x as { node: { value: string } }).node.value)).toEqual(['a']);
    expect(results.raftsim!.fromHistory).toEqual(e);
  });

  it('a live stream gets every write in order and stays open', () => {
    const e = results.etcd!.live!;
    expect(e.events.map((x) => (x as { node: { value: string } }).node.value)).toEqual(['1', '2']);
    expect(e.ended).toBe(false);
    expect(results.raftsim!.live).toEqual(e);
  });

  it('a recursive stream over a directory sees its deletion exactly as etcd reports it', () => {
    const e = results.etcd!.deletedDirectory!;
    expect(e.events.length).toBeGreaterThanOrEqual(1);
    expect(results.raftsim!.deletedDirectory).toEqual(e);
  });
});
