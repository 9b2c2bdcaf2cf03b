// bench/net.ts must not rot: its load generator frames replies and counts every kind of failure, and the bench
// itself, in a tiny untimed configuration against real raftsim and etcd clusters, prints one well-formed JSON
// line and leaves no data behind. Nothing here depends on how fast anything is.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLoad } from '../../bench/load.ts';
import { findEtcdBinary } from '../support/etcd.ts';

const root = resolve(import.meta.dirname, '../..');

describe('the load generator', () => {
  let server: Server;
  let url: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        switch (req.url) {
          case '/ok':
            res.writeHead(200, { 'content-length': '2' }).end('ok');
            return;
          case '/chunked':
            res.writeHead(201, { 'transfer-encoding': 'chunked' });
            res.write('part one, ');
            res.end('part two');
            return;
          case '/fail':
            res.writeHead(500, { 'content-length': '4' }).end('fail');
            return;
          case '/reset':
            res.socket?.destroy();
            return;
          case '/silent':
            return; // never answered: the generator's timeout must end it
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const address = server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('counts 2xx replies, plain and chunked, as ok and keeps the connection', async () => {
    const paths = ['/ok', '/chunked'];
    const r = await runLoad({ url, connections: 3, maxRequests: 60, maxMs: 10_000, request: (i) => ({ method: 'PUT', path: paths[i % 2]!, body: 'value=x' }) });
    expect(r).toMatchObject({ ok: 60, errors: 0, errorSamples: [] });
    expect(r.perSec).toBeGreaterThan(0);
    expect(r.p50Ms).toBeGreaterThan(0);
    expect(r.p99Ms).toBeGreaterThanOrEqual(r.p50Ms);
  });

  it('counts error statuses, reset connections and unanswered requests as errors, and goes on after each', async () => {
    const paths = ['/ok', '/fail', '/chunked', '/reset', '/silent'];
    const r = await runLoad({ url, connections: 2, maxRequests: 25, maxMs: 10_000, timeoutMs: 100, request: (i) => ({ method: 'GET', path: paths[i % paths.length]! }) });
    expect(r.ok).toBe(10);
    expect(r.errors).toBe(15);
    expect(r.errorSamples).toHaveLength(5);
    expect(r.errorSamples.join('\n')).toMatch(/GET \/fail: status 500/);
    expect(r.errorSamples.join('\n')).toMatch(/GET \/reset: (connection closed by the server|ECONNRESET)/);
    expect(r.errorSamples.join('\n')).toMatch(/GET \/silent: no reply within 100 ms/);
  });

  it('a server that does not listen is an error per request, not a crash', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const address = closed.address();
    await new Promise<void>((r) => closed.close(() => r()));
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    const r = await runLoad({ url: `http://127.0.0.1:${port}`, connections: 1, maxRequests: 3, maxMs: 10_000, request: () => ({ method: 'GET', path: '/' }) });
    expect(r).toMatchObject({ ok: 0, errors: 3 });
    expect(r.errorSamples[0]).toMatch(/ECONNREFUSED/);
    expect(r.p50Ms).toBeNaN();
  });
});

describe('bench/net.ts', () => {
  it('bad flags are one line and exit code 2', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'bench/net.ts', '--rounds', '0'], { cwd: root, encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim()).toBe("bench/net: --rounds must be an integer >= 1, got '0'");
  });

  it('a --raftsim-entry that does not exist is bad usage', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'bench/net.ts', '--raftsim-entry', '/nonexistent/main.ts'], { cwd: root, encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stderr.trim()).toBe('bench/net: --raftsim-entry: no such file /nonexistent/main.ts');
  });

  it.skipIf(findEtcdBinary() === null)('in a tiny configuration prints one line of well-formed figures and removes its data', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'raftsim-bench-net-test-'));
    try {
      const args = ['--import', 'tsx', 'bench/net.ts', '--rounds', '1', '--measure-ms', '150', '--max-requests', '30', '--keys', '5', '--dir', dir];
      const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill('SIGINT'), 100_000);
      const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
      clearTimeout(timer);
      expect(code, stderr).toBe(0);
      const lines = stdout.trim().split('\n');
      expect(lines).toHaveLength(1);
      const out = JSON.parse(lines[0]!) as Record<string, unknown> & { raftsim: Record<string, number>; etcd: Record<string, number>; ratio: Record<string, number> };
      expect(out).toMatchObject({ bench: 'net', members: 3, rounds: 1, errors: { raftsim: 0, etcd: 0 } });
      const names = ['put1', 'put64', 'quorumGet64', 'get64'].flatMap((m) => [`${m}PerSec`, `${m}P50Ms`, `${m}P99Ms`, `${m}CpuMsPerOp`]);
      // CPU time comes in clock ticks (10 ms): a tiny run may spend none, and then its ratio is null.
      const timed = names.filter((n) => !n.endsWith('CpuMsPerOp'));
      for (const system of [out.raftsim, out.etcd, out.ratio]) {
        expect(Object.keys(system).sort()).toEqual([...names].sort());
        for (const name of timed) expect(system[name], name).toBeGreaterThan(0);
      }
      for (const name of names.filter((n) => n.endsWith('CpuMsPerOp'))) {
        for (const system of [out.raftsim, out.etcd]) expect(system[name], name).toBeGreaterThanOrEqual(0);
      }
      for (const name of timed) expect(out.ratio[name]).toBeCloseTo(out.raftsim[name]! / out.etcd[name]!, 2);
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
