// Jepsen mode end to end: the simulator's workloads and checkers over HTTP against a raftsim cluster and a real
// etcd 3.4 cluster on loopback, each under kill -9/restart and SIGSTOP/SIGCONT of its members; both must keep
// quorum reads linearizable and every acknowledged write. The checks are shown to fail: a server mutant that
// answers quorum reads from the contacted member's local store, and a fake endpoint in this process that
// serves quorum reads from a copy of its store a few writes behind, are both reported non-linearizable.
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseKeysRequest, renderKeysResponse, replyOf } from '../../../core/api/index.ts';
import { applyCommand, newStore, type KeysRequest } from '../../../core/kv/index.ts';
import { run as jepsenCommand } from '../../../bin/jepsen.ts';
import { UsageError } from '../../../bin/usage.ts';
import { findEtcdBinary } from '../../../net/cluster.ts';
import { runJepsen } from '../../../net/jepsen/run.ts';
import { checkRun, parseRaftsimFile } from '../../../sim/check/index.ts';
import { materialize } from '../../../sim/mutants/mutate.ts';
import { quorumReadServedLocally } from '../../../sim/mutants/replica.ts';
import { runTool } from '../clients/tools.ts';
import { FAST_RAFT } from '../server/helpers.ts';

const BIN = fileURLToPath(new URL('../../../bin/raftsim', import.meta.url));
const etcdBin = findEtcdBinary();
if (etcdBin === null) console.warn('skipping Jepsen mode against etcd: no etcd binary (apt-get install etcd-server)');

const outRoot = mkdtempSync(join(tmpdir(), 'raftsim-jepsen-test-'));
afterAll(() => rmSync(outRoot, { recursive: true, force: true }));

function jepsen(args: string[], timeoutMs = 120_000) {
  return runTool(BIN, ['jepsen', ...args], { timeoutMs });
}

interface Summary {
  ok: boolean;
  operations: { ok: number; fail: number; info: number; total: number };
  faults: { counts: Record<string, number>; events: Array<{ kind: string; member: string; atMs: number }> };
  verdicts: Array<{ checker: string; ok: boolean; summary: string }>;
  unexpectedExits: unknown[];
  finalReads: { keys: number; read: number };
}

const summaryIn = (dir: string) => JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as Summary;
const FAULTS = ['--kill', '--pause', '--fault-interval', '2s', '--fault-duration', '1500ms', '--timeout', '1s'];
const TIMING = ['--heartbeat-interval', String(FAST_RAFT.heartbeatIntervalMs), '--election-timeout', String(FAST_RAFT.electionTimeoutMs)];

/** Every fault the schedule of seed 1 holds ran, the checks held, and the history re-checks the same. */
function expectHeldUnderFaults(r: { code: number; stdout: string; stderr: string }, out: string): void {
  expect(r.code, r.stderr + r.stdout).toBe(0);
  const s = summaryIn(out);
  expect(s.ok).toBe(true);
  expect(s.faults.counts.kill).toBeGreaterThanOrEqual(1);
  expect(s.faults.counts.restart).toBe(s.faults.counts.kill);
  expect(s.faults.counts.pause).toBeGreaterThanOrEqual(1);
  expect(s.faults.counts.resume).toBe(s.faults.counts.pause);
  expect(s.unexpectedExits).toEqual([]);
  expect(s.operations.ok).toBeGreaterThan(100);
  expect(s.finalReads.read).toBe(s.finalReads.keys);
  expect(s.verdicts.map((v) => [v.checker, v.ok])).toEqual([
    ['linearizability', true],
    ['acked-writes', true],
    ['final-reads', true],
    ['queue-order', true],
    ['members', true],
  ]);
  // The report names the faults that ran, with their times.
  expect(r.stdout).toMatch(new RegExp(`^faults +kill ${s.faults.counts.kill}, restart ${s.faults.counts.restart}, pause ${s.faults.counts.pause}, resume ${s.faults.counts.resume}$`, 'm'));
  for (const f of s.faults.events) expect(r.stdout).toContain(`${f.kind} ${f.member} @${(f.atMs / 1000).toFixed(1)}s`);
  expect(r.stdout).toMatch(/^ok +linearizability: linearizable/m);
  // The written history holds every operation and re-checks as it was judged.
  const file = parseRaftsimFile(readFileSync(join(out, 'history.jsonl'), 'utf8'));
  expect(file.history.ops.filter((op) => op.outcome === 'ok').length).toBeGreaterThanOrEqual(s.operations.ok + s.finalReads.keys);
  expect(checkRun(file).ok).toBe(true);
}

describe('raftsim jepsen against a raftsim cluster', () => {
  it('keeps quorum reads linearizable and every acknowledged write through kills and pauses', async () => {
    const out = join(outRoot, 'raftsim');
    const r = await jepsen(['--cluster', 'raftsim', '--duration', '12s', '--seed', '1', ...FAULTS, ...TIMING, '--out', out]);
    expectHeldUnderFaults(r, out);
  });

  it('reports a server that answers quorum reads locally as not linearizable', async () => {
    const copy = materialize(quorumReadServedLocally, { dirs: ['core', 'net', 'bin', 'sim'] });
    try {
      const result = await runJepsen({
        cluster: { kind: 'raftsim', size: 3, entry: join(copy.dir, 'bin/main.ts'), ...FAST_RAFT },
        durationMs: 5000,
        seed: 1,
        workload: { kind: 'register', clients: 10, timeoutMs: 1000, quorumReads: 1, thinkMs: 10 },
        faults: { kill: false, pause: true, meanGapMs: 1500, meanFaultMs: 1000 },
        checkTimeoutMs: 30_000,
      });
      expect(result.linearizability.verdict).toBe('non-linearizable');
      expect(result.summary.ok).toBe(false);
      expect(result.report?.key).toBe('/register');
      expect(result.report?.html).toContain('<html');
    } finally {
      copy.remove();
    }
  });
});

describe.skipIf(etcdBin === null)('raftsim jepsen against etcd 3.4', () => {
  it('keeps quorum reads linearizable and every acknowledged write through kills and pauses', async () => {
    const out = join(outRoot, 'etcd');
    const r = await jepsen(['--cluster', 'etcd', '--etcd-bin', etcdBin!, '--duration', '12s', '--seed', '1', ...FAULTS, ...TIMING, '--out', out]);
    expectHeldUnderFaults(r, out);
    expect(r.stdout).toMatch(/3-member etcd cluster started here \(etcd Version: 3\.4\.\d+\)/);
  });
});

/**
 * A v2 endpoint that lies: the real store behind it, but quorum reads are answered from a second copy that
 * applies each write only after LAG later writes have arrived, the way a member serving reads locally would lag.
 */
function lyingEndpoint(lag: number): Server {
  const fresh = newStore();
  const stale = newStore();
  const behind: KeysRequest[] = [];
  return createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const parsed = parseKeysRequest({ method: req.method ?? 'GET', path: url.pathname, query: url.search.slice(1), body, contentType: req.headers['content-type'] ?? null });
      let response;
      if (!parsed.ok) response = renderKeysResponse(parsed.reply);
      else {
        const request = parsed.request;
        const store = request.method === 'GET' && request.quorum ? stale : fresh;
        response = renderKeysResponse(replyOf(request, applyCommand(store, { kind: 'request', request, timeMs: Date.now() }).result!));
        if (request.method !== 'GET') {
          behind.push(request);
          while (behind.length > lag) applyCommand(stale, { kind: 'request', request: behind.shift()!, timeMs: Date.now() });
        }
      }
      res.writeHead(response.status, response.headers).end(response.body);
    });
  });
}

describe('raftsim jepsen against a lying endpoint', () => {
  let server: Server;
  let endpoint = '';
  beforeAll(async () => {
    server = lyingEndpoint(5);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const address = server.address();
    endpoint = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('reports stale quorum reads as not linearizable: exit 1, the failing key explained, an HTML report', async () => {
    const out = join(outRoot, 'lying');
    const r = await jepsen(['--endpoints', endpoint, '--workload', 'register', '--duration', '3s', '--clients', '4', '--out', out]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/^FAIL +linearizability: non-linearizable \(key "\/register": operation \d+/m);
    expect(r.stdout).toMatch(/^faults +none$/m);
    expect(r.stderr).toMatch(/^raftsim jepsen: check failed: linearizability: non-linearizable/m);
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toContain('/register');
    expect(summaryIn(out).ok).toBe(false);
    const file = parseRaftsimFile(readFileSync(join(out, 'history.jsonl'), 'utf8'));
    expect(checkRun(file).linearizability.verdict).toBe('non-linearizable');
  });

  it('refuses faults against endpoints it did not start', async () => {
    const r = await jepsen(['--endpoints', endpoint, '--kill']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([
      'raftsim jepsen: --kill needs a cluster this command starts (--cluster raftsim|etcd): it never signals processes it did not start',
    ]);
    expect(r.stdout).toBe('');
  });
});

describe('raftsim jepsen usage', () => {
  const cases: Array<[string[], RegExp]> = [
    [[], /^--endpoints or --cluster is required/],
    [['--endpoints', 'http://127.0.0.1:1', '--cluster', 'raftsim'], /^give either --endpoints \(an existing cluster\) or --cluster \(start one\), not both$/],
    [['--endpoints', 'http://127.0.0.1:1', '--pause'], /^--pause needs a cluster this command starts/],
    [['--endpoints', 'https://127.0.0.1:2379'], /^--endpoints: endpoint 'https:\/\/127\.0\.0\.1:2379' must use http:\/\/$/],
    [['--endpoints', 'localhost'], /^--endpoints: endpoint 'localhost' is not a URL \(expected e\.g\. http:\/\/127\.0\.0\.1:2379\)$/],
    [['--endpoints', 'http://127.0.0.1:2379/v2'], /must be a base URL without a path$/],
    [['--cluster', 'consul'], /^unknown --cluster 'consul' \(expected raftsim or etcd\)$/],
    [['--cluster', 'raftsim', '--size', '0'], /^--size must be an integer >= 1, got '0'$/],
    [['--cluster', 'raftsim', '--size', '12'], /^--size must be at most 9, got 12$/],
    [['--cluster', 'raftsim', '--etcd-bin', '/usr/bin/etcd'], /^--etcd-bin only applies with --cluster etcd$/],
    [['--endpoints', 'http://127.0.0.1:1', '--size', '3'], /^--size only applies with --cluster$/],
    [['--cluster', 'raftsim', '--workload', 'discovery'], /^unknown --workload 'discovery' \(expected register, multi-key, queue, mixed; TTL and watch workloads run in the simulator only\)$/],
    [['--cluster', 'raftsim', '--duration', 'soon'], /^--duration takes a duration such as 30s, 500ms or 2m, got 'soon'$/],
    [['--cluster', 'raftsim', '--quorum-reads', '2'], /^--quorum-reads takes a fraction between 0 and 1, got '2'$/],
    [['--cluster', 'raftsim', '--clients', 'many'], /^--clients takes a whole number, got 'many'$/],
    [['--cluster', 'raftsim', 'extra'], /^unexpected argument 'extra'/],
    [['--cluster', 'raftsim', '--frobnicate'], /^Unknown option '--frobnicate'/],
  ];
  for (const [args, message] of cases) {
    it(`${args.join(' ') || '(no flags)'}: one-line usage error`, async () => {
      const error = await jepsenCommand(args).then(
        () => null,
        (err: unknown) => err,
      );
      expect(error).toBeInstanceOf(UsageError);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toContain('\n');
    });
  }

  it('a bad flag exits 2 with one line on stderr; so do an unreachable endpoint and a missing etcd binary', async () => {
    const bad = await jepsen(['--cluster', 'raftsim', '--size', 'x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toEqual(["raftsim jepsen: --size takes a whole number, got 'x'"]);
    const out = join(outRoot, 'unreachable');
    const unreachable = await jepsen(['--endpoints', 'http://127.0.0.1:1', '--ready-timeout', '300ms', '--out', out]);
    expect(unreachable.code).toBe(2);
    expect(unreachable.stderr.trim().split('\n')).toEqual([
      'raftsim jepsen: no endpoint answered a quorum read within 300 ms: http://127.0.0.1:1 (connection refused)',
    ]);
    const noEtcd = await jepsen(['--cluster', 'etcd', '--etcd-bin', '/nonexistent/etcd', '--out', out]);
    expect(noEtcd.code).toBe(2);
    expect(noEtcd.stderr.trim().split('\n')).toHaveLength(1);
    expect(noEtcd.stderr).toMatch(/^raftsim jepsen: cannot run \/nonexistent\/etcd --version: /);
    expect(existsSync(join(out, 'history.jsonl'))).toBe(false);
  });
});
