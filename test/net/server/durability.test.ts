// kill -9 mid-load, restart: every acknowledged write is still there. A single member (its disk is the only
// copy) and the leader of three (its peers hold copies, so this checks it rejoins and serves them). The
// single-member check is shown to catch a member that acknowledges without writing its log. A WAL corrupted in
// the middle refuses to start with one line.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../../net/cluster.ts';
import { materialize, type Mutant } from '../../../sim/mutants/mutate.ts';
import { http, leaderOf, sleep, startTestCluster, stopAllClusters } from './helpers.ts';

afterAll(stopAllClusters);

interface LoadResult {
  acked: Map<string, string>;
  attempted: number;
}

/** Writers putting distinct keys round-robin over the endpoints, bounded in count and time. */
async function runLoad(endpoints: () => string[], options: { workers: number; maxWrites: number; maxMs: number }): Promise<LoadResult> {
  const acked = new Map<string, string>();
  let attempted = 0;
  const deadline = Date.now() + options.maxMs;
  await Promise.all(
    Array.from({ length: options.workers }, async (_, w) => {
      for (let n = 0; attempted < options.maxWrites && Date.now() < deadline; n++) {
        attempted++;
        const key = `/load/w${w}-${n}`;
        const value = `v${w}-${n}`;
        const list = endpoints();
        const endpoint = list[(w + n) % list.length]!;
        const reply = await http(`${endpoint}/v2/keys${key}`, { method: 'PUT', body: `value=${value}`, timeoutMs: 3000 }).catch(() => null);
        if (reply !== null && (reply.status === 200 || reply.status === 201) && JSON.parse(reply.body).action === 'set') acked.set(key, value);
        else await sleep(20);
      }
    }),
  );
  return { acked, attempted };
}

/** The acknowledged keys a member does not have (quorum reads, so a member that is behind catches up first). */
async function missingOn(endpoint: string, acked: Map<string, string>): Promise<string[]> {
  const missing: string[] = [];
  const keys = [...acked.keys()];
  for (let i = 0; i < keys.length; i += 16) {
    await Promise.all(
      keys.slice(i, i + 16).map(async (key) => {
        const reply = await http(`${endpoint}/v2/keys${key}?quorum=true`, { timeoutMs: 5000 });
        if (reply.status !== 200 || JSON.parse(reply.body).node.value !== acked.get(key)) missing.push(key);
      }),
    );
  }
  return missing.sort();
}

async function killMidLoadAndRestart(cluster: LocalCluster, victim: string): Promise<{ load: LoadResult; missing: string[] }> {
  // Writes keep going to the victim too: refused connections there are part of the load.
  const loading = runLoad(() => cluster.endpoints, { workers: 8, maxWrites: 3000, maxMs: 2500 });
  await sleep(900);
  await cluster.stopMember(victim, 'SIGKILL');
  const load = await loading;
  cluster.startMember(victim);
  await cluster.waitHealthy(30_000);
  return { load, missing: await missingOn(cluster.member(victim).clientUrl, load.acked) };
}

describe('kill -9 mid-load', () => {
  it('a single member keeps every acknowledged write', async () => {
    const cluster = await startTestCluster(1);
    const { load, missing } = await killMidLoadAndRestart(cluster, 'm1');
    expect(load.acked.size).toBeGreaterThan(20);
    expect(missing).toEqual([]);
  });

  it('the leader of three keeps every acknowledged write, and serves them after rejoining', async () => {
    const cluster = await startTestCluster(3);
    const leader = await leaderOf(cluster);
    const { load, missing } = await killMidLoadAndRestart(cluster, leader);
    expect(load.acked.size).toBeGreaterThan(20);
    expect(missing).toEqual([]);
    for (const m of cluster.members) expect(await missingOn(m.clientUrl, load.acked), m.name).toEqual([]);
  });

  const noWal: Mutant = {
    name: 'server-acknowledges-without-writing-the-log',
    description: 'The driver treats every persist as durable without handing it to the write-ahead log.',
    edits: [{ file: 'net/server/member.ts', find: 'durable = this.wal.save(persistBatchFromRaft(persist), { sync: ready.mustSync });', replace: 'durable = Promise.resolve();' }],
  };

  it(`the single-member check catches the mutant ${noWal.name}`, async () => {
    const copy = materialize(noWal, { dirs: ['core', 'net', 'bin', 'sim'] });
    try {
      const cluster = await startTestCluster(1, { entry: join(copy.dir, 'bin/main.ts') });
      const { load, missing } = await killMidLoadAndRestart(cluster, 'm1');
      expect(load.acked.size).toBeGreaterThan(20);
      expect(missing.length).toBeGreaterThan(0);
    } finally {
      copy.remove();
    }
  });
});

describe('a corrupted write-ahead log', () => {
  it('refuses to start with one line and exit code 2', async () => {
    const cluster = await startTestCluster(1);
    const url = cluster.members[0]!.clientUrl;
    for (let i = 0; i < 40; i++) expect((await http(`${url}/v2/keys/c${i}`, { method: 'PUT', body: `value=${'z'.repeat(100)}` })).status).toBe(201);
    await cluster.stopMember('m1');
    const dir = cluster.members[0]!.dataDir;
    const segment = readdirSync(dir).filter((f) => f.endsWith('.wal')).sort()[0]!;
    const bytes = readFileSync(join(dir, segment));
    // A byte in the middle of the log: valid records follow it, so this cannot be a torn tail.
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    writeFileSync(join(dir, segment), bytes);
    const bin = fileURLToPath(new URL('../../../bin/raftsim', import.meta.url));
    const run = spawnSync(bin, ['serve', ...cluster.argsFor('m1')], { encoding: 'utf8', timeout: 30_000 });
    expect(run.status).toBe(2);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^raftsim serve: wal: corrupt data in .*refusing to start/);
  });
});
