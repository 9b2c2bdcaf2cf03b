// Debian's etcdctl (etcd-client) speaking the v2 API (ETCDCTL_API=2), unchanged, against a 3-member raftsim
// cluster on loopback: keys, directories, TTL, watch, exec-watch, cluster-health, and member add/list/remove
// with a fourth member started from the ETCD_* variables `member add` prints.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../../net/cluster.ts';
import { freeLoopbackPort } from '../../support/etcd.ts';
import { http, sleep, startTestCluster, stopAllClusters } from '../server/helpers.ts';
import { available, runTool, startBackground, stopAllBackground } from './tools.ts';

const hasEtcdctl = available('etcdctl', ['--version'], { ETCDCTL_API: '2' });
if (!hasEtcdctl) console.warn('skipping the etcdctl client tests: etcdctl is not installed (apt-get install etcd-client)');

const BIN = fileURLToPath(new URL('../../../bin/raftsim', import.meta.url));
let cluster: LocalCluster;
const scratch: string[] = [];

function ctl(...args: string[]) {
  return runTool('etcdctl', ['--endpoints', cluster.endpoints.join(','), ...args], { env: { ETCDCTL_API: '2' } });
}

async function ok(...args: string[]): Promise<string> {
  const r = await ctl(...args);
  expect(r.code, `etcdctl ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout.trim();
}

describe.skipIf(!hasEtcdctl)('etcdctl (ETCDCTL_API=2)', () => {
  beforeAll(async () => {
    cluster = await startTestCluster(3);
  });
  afterAll(async () => {
    await stopAllBackground();
    await stopAllClusters();
    for (const d of scratch) rmSync(d, { recursive: true, force: true });
  });

  it('set, get, mk, update, rm', async () => {
    expect(await ok('set', '/greeting', 'hello')).toBe('hello');
    expect(await ok('get', '/greeting')).toBe('hello');
    expect(await ok('mk', '/fresh', 'one')).toBe('one');
    const again = await ctl('mk', '/fresh', 'two');
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/105: Key already exists/);
    expect(await ok('update', '/fresh', 'three')).toBe('three');
    const missing = await ctl('update', '/nothing-here', 'x');
    expect(missing.stderr).toMatch(/100: Key not found/);
    expect(await ok('rm', '/fresh')).toMatch(/PrevNode.Value: three/);
    expect((await ctl('get', '/fresh')).stderr).toMatch(/100: Key not found/);
  });

  it('mkdir, rmdir, ls --recursive', async () => {
    await ok('mkdir', '/tree');
    await ok('mkdir', '/tree/empty');
    await ok('set', '/tree/a', '1');
    await ok('set', '/tree/sub/b', '2');
    const listing = (await ok('ls', '--recursive', '/tree')).split('\n').sort();
    expect(listing).toEqual(['/tree/a', '/tree/empty', '/tree/sub', '/tree/sub/b']);
    await ok('rmdir', '/tree/empty');
    expect((await ctl('rmdir', '/tree/sub')).stderr).toMatch(/108: Directory not empty/);
    expect((await ok('ls', '/tree')).split('\n').sort()).toEqual(['/tree/a', '/tree/sub']);
  });

  it('set --ttl expires the key', async () => {
    expect(await ok('set', '--ttl', '1', '/short', 'lived')).toBe('lived');
    let gone = false;
    for (let i = 0; i < 60 && !gone; i++) {
      await sleep(100);
      gone = /100: Key not found/.test((await ctl('get', '/short')).stderr);
    }
    expect(gone).toBe(true);
  });

  it('watch prints the next value; exec-watch runs a command per change', async () => {
    const watch = startBackground('etcdctl', ['--endpoints', cluster.endpoints.join(','), 'watch', '/watched'], { ETCDCTL_API: '2' });
    const dir = mkdtempSync(join(tmpdir(), 'raftsim-exec-watch-'));
    scratch.push(dir);
    const file = join(dir, 'seen');
    // etcdctl finds the key before `--` only when some flag was parsed (its own quirk); the documented form has one.
    const exec = startBackground('etcdctl', ['--endpoints', cluster.endpoints.join(','), 'exec-watch', '--recursive', '/execd', '--', 'sh', '-c', `echo "$ETCD_WATCH_ACTION $ETCD_WATCH_VALUE" >> ${file}`], { ETCDCTL_API: '2' });
    await sleep(500);
    await ok('set', '/watched', 'seen-by-watch');
    await watch.waitFor('seen-by-watch');
    await ok('set', '/execd', 'first');
    for (let i = 0; i < 100; i++) {
      if (readSafe(file).includes('first')) break;
      await sleep(50);
    }
    await ok('set', '/execd', 'second');
    for (let i = 0; i < 100; i++) {
      if (readSafe(file).includes('second')) break;
      await sleep(50);
    }
    expect(readSafe(file).trim().split('\n')).toEqual(['set first', 'set second']);
    await exec.stop();
  });

  it('cluster-health and member list', async () => {
    const health = await ok('cluster-health');
    expect(health.split('\n').filter((l) => /^member [0-9a-f]+ is healthy/.test(l))).toHaveLength(3);
    expect(health).toMatch(/cluster is healthy$/);
    const list = (await ok('member', 'list')).split('\n');
    expect(list).toHaveLength(3);
    expect(list.filter((l) => l.includes('isLeader=true'))).toHaveLength(1);
    for (const m of cluster.members) expect(list.some((l) => l.includes(`name=${m.name} peerURLs=${m.peerUrl} clientURLs=${m.clientUrl}`))).toBe(true);
  });

  it('member add, start the new member from the printed ETCD_* variables, then member remove stops it', async () => {
    const clientPort = await freeLoopbackPort();
    const peerUrl = `http://127.0.0.1:${await freeLoopbackPort()}`;
    const added = await ok('member', 'add', 'm4', peerUrl);
    expect(added).toMatch(/^Added member named m4 with ID [0-9a-f]+ to cluster/);
    const id = /with ID ([0-9a-f]+)/.exec(added)![1]!;
    const env: Record<string, string> = {};
    for (const line of added.split('\n')) {
      const m = /^(ETCD_[A-Z_]+)="(.*)"$/.exec(line);
      if (m !== null) env[m[1]!] = m[2]!;
    }
    expect(env).toMatchObject({ ETCD_NAME: 'm4', ETCD_INITIAL_CLUSTER_STATE: 'existing' });
    expect(env.ETCD_INITIAL_CLUSTER).toContain(`m4=${peerUrl}`);

    const dataDir = mkdtempSync(join(tmpdir(), 'raftsim-m4-'));
    scratch.push(dataDir);
    const clientUrl = `http://127.0.0.1:${clientPort}`;
    // etcdctl does not print the cluster token; the new member needs the one the cluster was started with.
    const m4 = spawn(BIN, ['serve', `--data-dir=${dataDir}`, `--listen-client-urls=${clientUrl}`, `--advertise-client-urls=${clientUrl}`, `--listen-peer-urls=${peerUrl}`, `--initial-advertise-peer-urls=${peerUrl}`, '--initial-cluster-token=raftsim-local', '--heartbeat-interval=50', '--election-timeout=500'], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let m4log = '';
    m4.stderr.on('data', (c: Buffer) => (m4log += c.toString()));
    const m4exit = new Promise<number | null>((r) => m4.once('exit', (code) => r(code)));
    try {
      let value: string | null = null;
      for (let i = 0; i < 200 && value !== 'hello'; i++) {
        await sleep(50);
        const reply = await http(`${clientUrl}/v2/keys/greeting?quorum=true`, { timeoutMs: 2000 }).catch(() => null);
        value = reply?.status === 200 ? (JSON.parse(reply.body).node.value as string) : null;
      }
      expect(value, m4log).toBe('hello');
      let list = '';
      for (let i = 0; i < 60 && !list.includes(`name=m4 peerURLs=${peerUrl} clientURLs=${clientUrl}`); i++) {
        await sleep(100);
        list = await ok('member', 'list');
      }
      expect(list.split('\n')).toHaveLength(4);
      expect(list).toContain(`${id}: name=m4 peerURLs=${peerUrl} clientURLs=${clientUrl}`);

      expect(await ok('member', 'remove', id)).toMatch(new RegExp(`Removed member ${id} from cluster`));
      expect(await Promise.race([m4exit, sleep(15_000).then(() => 'still running')])).toBe(0);
      expect(m4log).toMatch(/removed from the cluster/);
      expect((await ok('member', 'list')).split('\n')).toHaveLength(3);
    } finally {
      m4.kill('SIGKILL');
    }
  });
});

function readSafe(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
