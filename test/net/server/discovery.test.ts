// `raftsim serve --discovery URL`: three raftsim members bootstrap one cluster through etcd's v2 discovery
// protocol, against a discovery directory served by a raftsim member and by a real etcd 3.4; keys then work
// across the new cluster. A full cluster, a missing or bad size key, an unreachable or non-etcd discovery server
// and a bad URL each end `raftsim serve` with one line and exit 2.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalCluster } from '../../../net/cluster.ts';
import { discoverCluster, DiscoveryError } from '../../../net/server/index.ts';
import { findEtcdBinary, freeLoopbackPort, startEtcd, type EtcdServer } from '../../support/etcd.ts';
import { http, startTestCluster, stopAllClusters } from './helpers.ts';

const BIN = fileURLToPath(new URL('../../../bin/raftsim', import.meta.url));
const etcdBin = findEtcdBinary();
const scratch: string[] = [];
const clusters: LocalCluster[] = [];
let registry: LocalCluster;
let registryUrl = '';
let tokens = 0;

/** A fresh discovery directory on `server` expecting `size` members. */
async function newToken(server: string, size: number | string | null): Promise<string> {
  const url = `${server}/v2/keys/_etcd/registry/token-${process.pid}-${++tokens}`;
  if (size !== null) expect((await http(`${url}/_config/size`, { method: 'PUT', body: `value=${size}` })).status).toBe(201);
  return url;
}

async function discoveredCluster(url: string, size = 3): Promise<LocalCluster> {
  const members = [];
  for (let i = 0; i < size; i++) members.push({ name: `d${i + 1}`, clientPort: await freeLoopbackPort(), peerPort: await freeLoopbackPort() });
  const cluster = new LocalCluster({ members, discovery: url, heartbeatIntervalMs: 50, electionTimeoutMs: 500 });
  clusters.push(cluster);
  cluster.start();
  await cluster.waitHealthy(60_000);
  return cluster;
}

/** Keys written on one member read back on every other, and the member list is the three registrations. */
async function expectWorkingCluster(cluster: LocalCluster): Promise<void> {
  const [first, ...others] = cluster.members;
  const put = await http(`${first!.clientUrl}/v2/keys/greeting?quorum=true`, { method: 'PUT', body: 'value=hello' });
  expect(put.status).toBe(201);
  for (const m of others) {
    const got = await http(`${m.clientUrl}/v2/keys/greeting?quorum=true`);
    expect(JSON.parse(got.body).node.value).toBe('hello');
  }
  const members = JSON.parse((await http(`${first!.clientUrl}/v2/members`)).body).members as Array<{ name: string; peerURLs: string[] }>;
  expect(members.map((m) => m.name).sort()).toEqual(cluster.members.map((m) => m.name).sort());
}

/** Runs `raftsim serve` to completion (bounded) and returns its exit code and stderr. */
function serve(args: string[], timeoutMs = 30_000): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(BIN, ['serve', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

async function soloArgs(discovery: string): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'raftsim-discovery-'));
  scratch.push(dir);
  const [client, peer] = [await freeLoopbackPort(), await freeLoopbackPort()];
  return ['--name=late', `--data-dir=${dir}`, `--listen-client-urls=http://127.0.0.1:${client}`, `--advertise-client-urls=http://127.0.0.1:${client}`, `--listen-peer-urls=http://127.0.0.1:${peer}`, `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`, `--discovery=${discovery}`];
}

/** The last line a failed `raftsim serve` wrote: the error, alone on its line. */
function errorLine(stderr: string): string {
  return stderr.trim().split('\n').at(-1) ?? '';
}

beforeAll(async () => {
  registry = await startTestCluster(1);
  registryUrl = registry.members[0]!.clientUrl;
});

afterAll(async () => {
  await Promise.all(clusters.map((c) => c.stop()));
  await stopAllClusters();
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

describe('raftsim serve --discovery', () => {
  let bootstrapped = '';

  it('bootstraps a 3-member cluster through a discovery URL served by a raftsim member', async () => {
    bootstrapped = await newToken(registryUrl, 3);
    const cluster = await discoveredCluster(bootstrapped);
    await expectWorkingCluster(cluster);
    // The registrations are name=peer URL under the token, one per member id.
    const listing = JSON.parse((await http(`${bootstrapped}?sorted=true`)).body).node.nodes as Array<{ key: string; value: string }>;
    expect(listing.filter((n) => !n.key.endsWith('_config')).map((n) => n.value).sort()).toEqual(cluster.members.map((m) => `${m.name}=${m.peerUrl}`).sort());
  });

  it('a member restarted with its data skips discovery and rejoins', async () => {
    const cluster = clusters[0]!;
    await cluster.stopMember('d2');
    cluster.startMember('d2');
    await cluster.waitHealthy(30_000);
    expect(JSON.parse((await http(`${cluster.member('d2').clientUrl}/v2/keys/greeting?quorum=true`)).body).node.value).toBe('hello');
  });

  it('a fourth member finds the cluster full: one line, exit 2, and it registers nothing', async () => {
    const { code, stderr } = await serve(await soloArgs(bootstrapped));
    expect(code).toBe(2);
    expect(errorLine(stderr)).toMatch(/^raftsim serve: discovery: cluster is full: 3 members registered at http:\/\/127\.0\.0\.1:\d+\/v2\/keys\/_etcd\/registry\/\S+ before this one/);
    const listing = JSON.parse((await http(bootstrapped)).body).node.nodes as unknown[];
    expect(listing).toHaveLength(3); // the three members (the hidden _config is not listed)
  });

  it('a restart whose record of the discovered cluster is damaged is one line and exit 2', async () => {
    const cluster = clusters[0]!;
    await cluster.stopMember('d3');
    writeFileSync(join(cluster.member('d3').dataDir, 'discovered-cluster'), 'd1=\n');
    const { code, stderr } = await serve(cluster.argsFor('d3'));
    expect(code).toBe(2);
    expect(errorLine(stderr)).toMatch(/^raftsim serve: \S+discovered-cluster is damaged \(--initial-cluster: '' is not a URL .*\); restore this member from a peer$/);
  });

  it.skipIf(etcdBin === null)('bootstraps a 3-member cluster through a discovery URL served by a real etcd 3.4', async () => {
    let etcd: EtcdServer | null = null;
    try {
      etcd = await startEtcd({ name: 'discovery' });
      const cluster = await discoveredCluster(await newToken(etcd.clientUrl, 3));
      await expectWorkingCluster(cluster);
    } finally {
      await etcd?.stop();
    }
  });

  const failures: Array<{ what: string; url: () => Promise<string>; message: RegExp }> = [
    { what: 'a token whose size was never set', url: () => newToken(registryUrl, null), message: /^raftsim serve: discovery: size key not found: nothing at \S+\/_config\/size \(create the token first/ },
    { what: 'a size that is not a number', url: () => newToken(registryUrl, 'three'), message: /^raftsim serve: discovery: size key is bad: \S+ holds 'three'/ },
    { what: 'a size of zero', url: () => newToken(registryUrl, 0), message: /^raftsim serve: discovery: size key is bad/ },
  ];
  for (const f of failures) {
    it(`refuses ${f.what} with one line and exit 2`, async () => {
      const { code, stderr } = await serve(await soloArgs(await f.url()));
      expect(code).toBe(2);
      expect(errorLine(stderr)).toMatch(f.message);
    });
  }

  it('gives up on an unreachable discovery server after its retries, with one line and exit 2', async () => {
    const port = await freeLoopbackPort();
    const { code, stderr } = await serve(await soloArgs(`http://127.0.0.1:${port}/v2/keys/_etcd/registry/x`));
    expect(code).toBe(2);
    expect(errorLine(stderr)).toMatch(new RegExp(`^raftsim serve: discovery: cannot reach http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\) while reading the cluster size; gave up after 5 attempts$`));
    expect(stderr).toMatch(/retrying in 500 ms/);
  });

  it('refuses a discovery server that is not an etcd v2 server', async () => {
    const server: Server = createServer((_req, res) => res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>nope</h1>'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as { port: number }).port;
      const { code, stderr } = await serve(await soloArgs(`http://127.0.0.1:${port}/v2/keys/_etcd/registry/x`));
      expect(code).toBe(2);
      expect(errorLine(stderr)).toMatch(/^raftsim serve: discovery: bad discovery endpoint: \S+\/_config\/size answered 404 without an etcd v2 reply$/);
    } finally {
      server.close();
    }
  });

  it('refuses a malformed --discovery URL before touching anything', async () => {
    const { code, stderr } = await serve(['--discovery=ftp://127.0.0.1:1/v2/keys/x']);
    expect(code).toBe(2);
    expect(errorLine(stderr)).toMatch(/--discovery: 'ftp:\/\/127\.0\.0\.1:1\/v2\/keys\/x' uses ftp, only http is supported/);
  });
});

describe('discoverCluster', () => {
  it('reports registrations that are not name=URL, and duplicate names, as etcd does', async () => {
    const bad = await newToken(registryUrl, 2);
    await http(`${bad}/aaaa`, { method: 'PUT', body: 'value=not-a-registration' });
    await expect(discoverCluster({ url: bad, memberId: 'bbbb', name: 'b', peerUrls: ['http://127.0.0.1:1'] })).rejects.toThrow(/^discovery: invalid URL: \S+\/aaaa holds 'not-a-registration'/);
    const twice = await newToken(registryUrl, 2);
    await http(`${twice}/aaaa`, { method: 'PUT', body: 'value=same%3Dhttp://127.0.0.1:2' });
    await expect(discoverCluster({ url: twice, memberId: 'bbbb', name: 'same', peerUrls: ['http://127.0.0.1:1'] })).rejects.toThrow(/^discovery: found duplicate name/);
  });

  it('refuses to register the same member id twice', async () => {
    const url = await newToken(registryUrl, 3);
    await http(`${url}/cccc`, { method: 'PUT', body: 'value=c%3Dhttp://127.0.0.1:3' });
    await expect(discoverCluster({ url, memberId: 'cccc', name: 'c', peerUrls: ['http://127.0.0.1:3'] })).rejects.toThrow(/^discovery: found duplicate id/);
  });

  it('waits for the members that are still missing, and can be bounded', async () => {
    const url = await newToken(registryUrl, 2);
    const waiting = discoverCluster({ url, memberId: 'aaaa', name: 'a', peerUrls: ['http://127.0.0.1:1'] });
    await new Promise((r) => setTimeout(r, 300));
    await http(`${url}/bbbb?prevExist=false`, { method: 'PUT', body: 'value=b%3Dhttp://127.0.0.1:2' });
    expect(await waiting).toEqual([{ name: 'a', peerUrls: ['http://127.0.0.1:1'] }, { name: 'b', peerUrls: ['http://127.0.0.1:2'] }]);
    const alone = await newToken(registryUrl, 2);
    const error = await discoverCluster({ url: alone, memberId: 'aaaa', name: 'a', peerUrls: ['http://127.0.0.1:1'], waitTimeoutMs: 300, attempts: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DiscoveryError);
    expect((error as Error).message).toMatch(/^discovery: only 1 of 2 members registered at \S+ within 300 ms$/);
  });
});
