import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { serializeRaftsim } from '../../../sim/check/formats.ts';
import type { EtcdInput, EtcdOutput, NodeSample, Operation } from '../../../sim/check/history.ts';

const root = resolve(import.meta.dirname, '../../..');
const dataDir = resolve(root, '../shared/data/porcupine');
const haveData = existsSync(join(dataDir, 'expected.tsv'));
if (!haveData) console.warn(`skipping the ground-truth test: ${dataDir} is absent (it comes with the shared data folder)`);

function raftsim(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', join(root, 'node_modules/tsx/dist/esm/index.mjs'), join(root, 'bin/main.ts'), ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function verdicts(stdout: string): Map<string, string> {
  const lines = stdout.trim().split('\n');
  expect(lines.at(-1)).toMatch(/^TOTAL\t-\t\d+(\.\d+)?$/);
  return new Map(lines.slice(0, -1).map((line) => {
    const [file, verdict, ms] = line.split('\t');
    expect(ms).toMatch(/^\d+(\.\d+)?$/);
    return [basename(file!), verdict!];
  }));
}

function scratch(name: string, text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'raftsim-check-')), name);
  writeFileSync(file, text);
  return file;
}

describe('raftsim check against published ground truth', () => {
  const expected = haveData
    ? new Map(readFileSync(join(dataDir, 'expected.tsv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split('\t')).map((f) => [f[0]!, f[2]!]))
    : new Map<string, string>();

  it.skipIf(!haveData)('gives the expected verdict for every Jepsen etcd log', () => {
    const files = readdirSync(dataDir).filter((f) => f.startsWith('etcd_')).sort();
    expect(files.length).toBe(60);
    const r = raftsim('check', ...files.map((f) => join(dataDir, f)), '--format', 'jepsen-etcd');
    const got = verdicts(r.stdout);
    for (const f of files) expect([f, got.get(f)]).toEqual([f, expected.get(f)]);
    expect(r.code).toBe(1);
  });

  it.skipIf(!haveData)('gives the expected verdict for every Porcupine kv log and writes reports for the bad ones', () => {
    const files = readdirSync(dataDir).filter((f) => /^c\d+-(ok|bad)\.txt$/.test(f)).sort();
    expect(files.length).toBe(6);
    const reports = mkdtempSync(join(tmpdir(), 'raftsim-reports-'));
    const r = raftsim('check', ...files.map((f) => join(dataDir, f)), '--format', 'porcupine-kv', '--report', reports);
    const got = verdicts(r.stdout);
    for (const f of files) expect([f, got.get(f)]).toEqual([f, expected.get(f)]);
    expect(r.code).toBe(1);
    expect(readdirSync(reports).sort()).toEqual(files.filter((f) => f.includes('bad')).map((f) => `${f}.html`));
  });

  it.skipIf(!haveData)('says unknown and exits 1 when the time budget runs out', () => {
    const r = raftsim('check', join(dataDir, 'c50-ok.txt'), '--format', 'porcupine-kv', '--timeout-ms', '1');
    expect(verdicts(r.stdout).get('c50-ok.txt')).toBe('unknown');
    expect(r.stderr).toMatch(/search budget exhausted/);
    expect(r.code).toBe(1);
  });

  it.skipIf(!haveData)('exits 0 when every file is linearizable', () => {
    const r = raftsim('check', join(dataDir, 'c01-ok.txt'), join(dataDir, 'etcd_002.log').replace('etcd_002.log', 'c10-ok.txt'), '--format', 'porcupine-kv');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});

describe('raftsim check on bad input', () => {
  const good = 'INFO  jepsen.util - 0\t:invoke\t:write\t1\nINFO  jepsen.util - 0\t:ok\t:write\t1\n';

  it('names the file and line of a truncated line, exit 2, no stack', () => {
    const file = scratch('truncated.log', `${good}INFO  jepsen.util - 1\t:invoke\t:rea`);
    const r = raftsim('check', file, '--format', 'jepsen-etcd');
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toEqual([`raftsim check: ${file}:3: not a Jepsen history line: 'INFO  jepsen.util - 1\t:invoke\t:rea'`]);
  });

  it('rejects an unknown Jepsen operation', () => {
    const file = scratch('incr.log', `${good}INFO  jepsen.util - 1\t:invoke\t:incr\t1\n`);
    const r = raftsim('check', file, '--format', 'jepsen-etcd');
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`raftsim check: ${file}:3: unknown operation ':incr' (expected :read, :write or :cas)`);
  });

  it('names an EDN line cut in the middle', () => {
    const file = scratch('cut.txt', '{:process 0, :type :invoke, :f :put, :key "1", :value "a"}\n{:process 0, :type :ok, :f :put, :key "1", :va');
    const r = raftsim('check', file, '--format', 'porcupine-kv');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^raftsim check: ${file}:2: not an EDN map`));
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('rejects an unknown operation', () => {
    const file = scratch('unknown.txt', '{:process 0, :type :invoke, :f :incr, :key "1", :value "a"}\n');
    const r = raftsim('check', file, '--format', 'porcupine-kv');
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`raftsim check: ${file}:1: unknown operation ':incr' (expected :get, :put or :append)`);
  });

  it('rejects a bad format flag and a missing format', () => {
    const bad = raftsim('check', 'x.log', '--format', 'edn');
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe("raftsim check: unknown --format 'edn' (expected jepsen-etcd, porcupine-kv, raftsim)");
    const none = raftsim('check', 'x.log');
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^raftsim check: --format is required/);
    const timeout = raftsim('check', 'x.log', '--format', 'raftsim', '--timeout-ms', 'soon');
    expect(timeout.code).toBe(2);
    expect(timeout.stderr.trim()).toBe("raftsim check: --timeout-ms takes a whole number, got 'soon'");
  });

  it('reports a missing file', () => {
    const r = raftsim('check', '/nonexistent/history.log', '--format', 'jepsen-etcd');
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe('raftsim check: cannot read /nonexistent/history.log: no such file');
  });

  it('reads its own format and reports a bad line in it', () => {
    const header = '{"raftsim":"history","version":1,"model":"etcd"}\n';
    const ok =
      header +
      '{"id":0,"client":1,"key":"/a","input":{"f":"set","value":"1"},"output":{"index":4},"outcome":"ok","call":0,"ret":3}\n' +
      '{"id":1,"client":2,"key":"/a","input":{"f":"get"},"output":{"value":"1","index":4},"outcome":"ok","call":5,"ret":6}\n';
    expect(raftsim('check', scratch('ok.jsonl', ok), '--format', 'raftsim').code).toBe(0);
    const stale = ok.replace('"value":"1","index":4}', '"error":100}');
    expect(raftsim('check', scratch('stale.jsonl', stale), '--format', 'raftsim').code).toBe(1);
    const broken = scratch('broken.jsonl', ok + '{"id":2,"client":1,"key":"/a","input":{"f":"frob"},"outcome":"ok","call":7,"ret":8}\n');
    const r = raftsim('check', broken, '--format', 'raftsim');
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`raftsim check: ${broken}:4: unknown operation 'frob' for the etcd model`);
  });
});

describe('raftsim check on raftsim files carrying observations', () => {
  const ops: Operation<EtcdInput, EtcdOutput>[] = [
    { id: 0, client: 1, key: '/a', input: { f: 'set', value: '1', ttl: 1 }, output: { index: 1 }, outcome: 'ok', call: 0, ret: 5 },
    { id: 1, client: 2, key: '/a', input: { f: 'get' }, output: { value: '1', index: 1 }, outcome: 'ok', call: 10, ret: 12 },
  ];
  const leader = (node: number, time: number): NodeSample => ({
    node, time, role: 'leader', term: 1, commitIndex: 1, lastIndex: 1, applied: 1, log: { from: 1, entries: [[1, 'set /a 1']] },
  });
  const base = {
    raft: { samples: [leader(1, 3)], acked: [{ op: 0, time: 5, raftIndex: 1, raftTerm: 1, digest: 'set /a 1' }] },
    events: [{ index: 1, key: '/a', action: 'set', value: '1' }],
    watches: [{ watcher: 9, key: '/a', recursive: false, waitIndex: 1, stream: true, received: [{ index: 1, key: '/a', action: 'set', value: '1', time: 6 }], drainedThrough: 1 }],
    ttl: { expiryTickMs: 100, clockErrorMs: 10 },
  };

  it('runs every checker the file has data for; all hold: exit 0', () => {
    const r = raftsim('check', scratch('all.jsonl', serializeRaftsim({ model: 'etcd', ops }, base)), '--format', 'raftsim');
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/\tlinearizable\t/);
    expect(r.code).toBe(0);
  });

  it('reports a Raft violation in a linearizable history as a violation, exit 1', () => {
    const twoLeaders = { ...base, raft: { ...base.raft, samples: [leader(1, 3), leader(2, 4)] } };
    const r = raftsim('check', scratch('leaders.jsonl', serializeRaftsim({ model: 'etcd', ops }, twoLeaders)), '--format', 'raftsim');
    expect(r.stdout).toMatch(/\tviolation\t/);
    expect(r.stderr).toMatch(/raft-safety: 1 violation\(s\); first: election-safety: term 1 has two leaders: node 1 \(at 3 ms\) and node 2 \(at 4 ms\)/);
    expect(r.code).toBe(1);
  });

  it('judges TTLs with the slack from the header, and watches', () => {
    const late = [...ops, { id: 2, client: 2, key: '/a', input: { f: 'get' } as EtcdInput, output: { value: '1', index: 1 }, outcome: 'ok' as const, call: 2000, ret: 2001 }];
    const dropped = { ...base, events: [...base.events, { index: 2, key: '/a', action: 'expire' }], watches: [{ ...base.watches[0]!, drainedThrough: 2 }] };
    const r = raftsim('check', scratch('ttl.jsonl', serializeRaftsim({ model: 'etcd', ops: late }, dropped)), '--format', 'raftsim');
    expect(r.stdout).toMatch(/\tviolation\t/);
    expect(r.stderr).toMatch(/watch: 1 violation\(s\); first: watch-missing/);
    expect(r.stderr).toMatch(/ttl: 1 violation\(s\); first: expired-read/);
    expect(r.code).toBe(1);
  });

  it('names a bad observation line', () => {
    const text = serializeRaftsim({ model: 'etcd', ops }, base) + '{"sample":{"node":1,"time":9,"role":"boss","term":1,"commitIndex":1,"lastIndex":1,"applied":1}}\n';
    const file = scratch('badsample.jsonl', text);
    const r = raftsim('check', file, '--format', 'raftsim');
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`raftsim check: ${file}:8: sample "role" must be follower, pre-candidate, candidate or leader`);
  });

  it('says so when the report cannot be written', () => {
    const stale = [...ops.slice(0, 1), { ...ops[1]!, output: { error: 100, index: 1 } }];
    const blocker = scratch('not-a-dir', 'x');
    const r = raftsim('check', scratch('stale.jsonl', serializeRaftsim({ model: 'etcd', ops: stale })), '--format', 'raftsim', '--report', join(blocker, 'reports'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/raftsim check: cannot write the report .*not-a-dir\/reports\/stale.jsonl.html: ENOTDIR/);
  });
});
