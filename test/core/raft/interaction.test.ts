// Data-driven interaction tests: each file in interaction/ is a script of commands to a small cluster with the
// output each command must produce, so Raft behaviour can be reviewed without reading TypeScript.
// Format (see interaction/README.md): a command starts at column 0, its expected output follows indented by two
// spaces; `#` lines and blank lines are kept as they are. `REWRITE=1 npx vitest run test/core/raft/interaction`
// regenerates the expected output after an intended change (review the diff!).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Cluster, formatEntry, type RaftCore } from './cluster.ts';
import { withMutant } from '../../../sim/mutants/mutate.ts';
import { lastLogIndex } from '../../../core/raft/index.ts';
import type { ConfChangeType, Message, RaftOptions } from '../../../core/raft/index.ts';

const dir = join(import.meta.dirname, 'interaction');
const rewrite = process.env.REWRITE === '1';

class ScriptError extends Error {}

/** Message filters: links like `1->2` or `*->3` (any of them), and optionally `type=vote,vote-response`. */
function parseLinks(args: string[]): ((m: Message) => boolean) | undefined {
  if (args.length === 0) return undefined;
  let types: string[] | null = null;
  const links: Array<{ from: string; to: string }> = [];
  for (const a of args) {
    if (a.startsWith('type=')) {
      types = a.slice(5).split(',');
      continue;
    }
    const match = /^([^-\s>]+|\*)->([^-\s>]+|\*)$/.exec(a);
    if (match === null) throw new ScriptError(`expected links like 1->2 or *->3, or type=..., got ${a}`);
    links.push({ from: match[1]!, to: match[2]! });
  }
  return (m) =>
    (links.length === 0 || links.some((l) => (l.from === '*' || l.from === m.from) && (l.to === '*' || l.to === m.to))) &&
    (types === null || types.includes(m.type));
}

function parseKeyValues(args: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq <= 0) throw new ScriptError(`expected key=value, got ${arg}`);
    out[arg.slice(0, eq)] = arg.slice(eq + 1);
  }
  return out;
}

function number(value: string | undefined, what: string): number {
  const n = Number(value);
  if (value === undefined || !Number.isInteger(n)) throw new ScriptError(`${what}: expected an integer, got ${String(value)}`);
  return n;
}

const optionKeys: Record<string, keyof RaftOptions> = {
  election: 'electionTimeoutMs',
  heartbeat: 'heartbeatIntervalMs',
  'max-entries': 'maxEntriesPerMessage',
  'max-bytes': 'maxBytesPerMessage',
  inflight: 'maxInflightMessages',
  'max-uncommitted': 'maxUncommittedBytes',
  seed: 'seed',
};

/** Runs one command and returns its output lines. */
function runCommand(state: { cluster: Cluster | null; core: RaftCore | undefined }, words: string[]): string[] {
  const [command, ...args] = words as [string, ...string[]];
  if (command === 'cluster') {
    const kv = parseKeyValues(args);
    const list = (key: string) => (kv[key] === undefined ? [] : kv[key]!.split(','));
    const raft: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(kv)) {
      if (key in optionKeys) raft[optionKeys[key]!] = number(value, key);
      else if (key === 'prevote') raft.preVote = value === 'true';
      else if (key === 'checkquorum') raft.checkQuorum = value === 'true';
      else if (!['voters', 'learners', 'joiners', 'sync'].includes(key)) throw new ScriptError(`unknown cluster option ${key}`);
    }
    state.cluster = new Cluster({
      voters: list('voters'),
      learners: list('learners'),
      joiners: list('joiners'),
      raft: raft as Omit<RaftOptions, 'id'>,
      autoSync: kv.sync !== 'manual',
      ...(state.core === undefined ? {} : { core: state.core }),
    });
    return [];
  }
  const c = state.cluster;
  if (c === null) throw new ScriptError('the first command must be `cluster`');
  const id = args[0];
  const need = (n: number) => {
    if (args.length < n) throw new ScriptError(`${command} needs ${n} argument(s)`);
  };
  switch (command) {
    case 'campaign':
      need(1);
      c.step(id!, { type: 'campaign' });
      break;
    case 'tick':
      need(2);
      c.tick(id!, number(args[1], 'tick ms'), args[2] === undefined ? undefined : number(args[2], 'tick step ms'));
      break;
    case 'tick-all':
      need(1);
      for (const node of c.ids) if (!c.node(node).crashed) c.tick(node, number(args[0], 'tick ms'));
      break;
    case 'deliver':
      c.deliver(parseLinks(args));
      break;
    case 'deliver-once':
      c.deliverOnce(parseLinks(args));
      break;
    case 'drop': {
      const dropped = c.network.filter(parseLinks(args) ?? (() => true));
      c.drop(parseLinks(args) ?? (() => true));
      for (const m of dropped) c.effect(`dropped ${m.from}->${m.to} ${m.type}`);
      break;
    }
    case 'partition': {
      const groups = args.join(' ').split('|').map((g) => g.trim().split(/\s+/).filter(Boolean));
      if (groups.length < 2) throw new ScriptError('partition needs groups separated by |');
      c.partition(...groups);
      break;
    }
    case 'heal':
      c.heal();
      break;
    case 'propose':
      need(2);
      c.propose(id!, ...args.slice(1));
      break;
    case 'propose-empty':
      need(1);
      c.step(id!, { type: 'propose', payloads: [] });
      break;
    case 'propose-bytes':
      need(2);
      c.step(id!, { type: 'propose', payloads: [new Uint8Array(number(args[1], 'size'))] });
      break;
    case 'propose-conf':
      need(3);
      c.step(id!, { type: 'propose-conf', change: { type: args[1] as ConfChangeType, node: args[2]! } });
      break;
    case 'read':
      need(2);
      c.step(id!, { type: 'read-index', context: args[1]! });
      break;
    case 'transfer':
      need(2);
      c.step(id!, { type: 'transfer-leadership', to: args[1]! });
      break;
    case 'compact':
      need(2);
      c.step(id!, { type: 'compact', index: number(args[1], 'index'), data: new TextEncoder().encode(args[2] ?? `state@${args[1]}`) });
      break;
    case 'crash':
      need(1);
      c.crash(id!);
      break;
    case 'restart':
      need(1);
      c.restart(id!);
      break;
    case 'sync':
      need(1);
      c.sync(id!);
      break;
    case 'status':
      return (args.length > 0 ? args : c.ids).map((n) => {
        const node = c.node(n);
        const s = node.state;
        if (node.crashed) return `${n}: down`;
        const learners = s.membership.learners.length === 0 ? '' : ` learners=${s.membership.learners.join(',')}`;
        return `${n}: ${s.role} term=${s.term} vote=${s.vote ?? '-'} leader=${s.leader ?? '-'} commit=${s.commit} last=${lastLogIndex(s)} durable=${s.durableIndex} applied=${node.appliedIndex} voters=${s.membership.voters.join(',')}${learners}`;
      });
    case 'log': {
      need(1);
      const s = c.node(id!).state;
      const head = s.log.snapshotIndex > 0 ? [`snapshot ${s.log.snapshotIndex}@${s.log.snapshotTerm}`] : [];
      return [...head, ...s.log.entries.map(formatEntry)];
    }
    case 'progress': {
      need(1);
      const s = c.node(id!).state;
      return s.peers.map((p) => {
        const pr = s.progress[p];
        if (pr === undefined) return `${p}: -`;
        return `${p}: ${pr.state} match=${pr.match} next=${pr.next}${pr.inflight.length > 0 ? ` inflight=${pr.inflight.join(',')}` : ''}${pr.probeSent ? ' paused' : ''}`;
      });
    }
    case 'network':
      return c.network.map((m) => `${m.from}->${m.to} ${m.type} term=${m.term}`);
    default:
      throw new ScriptError(`unknown command ${command}`);
  }
  return c.takeEffects();
}

/** Runs a whole script and returns it with every command's output regenerated. */
function runScript(text: string, core?: RaftCore): string {
  const state: { cluster: Cluster | null; core: RaftCore | undefined } = { cluster: null, core };
  const out: string[] = [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((line, i) => {
    if (line.startsWith('  ')) return; // expected output: regenerated below
    out.push(line);
    if (line.trim() === '' || line.startsWith('#')) return;
    try {
      for (const produced of runCommand(state, line.trim().split(/\s+/))) out.push(`  ${produced}`);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      if (err instanceof ScriptError) throw new Error(`line ${i + 1}: ${reason}`);
      out.push(`  error: ${reason}`);
    }
  });
  return `${out.join('\n')}\n`;
}

describe('interaction scripts', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.txt')).sort();
  it('has scripts', () => {
    expect(files.length).toBeGreaterThan(0);
  });
  for (const file of files) {
    it(file, () => {
      const path = join(dir, file);
      const expected = readFileSync(path, 'utf8');
      const actual = runScript(expected);
      if (rewrite) writeFileSync(path, actual);
      else expect(actual).toBe(expected);
    });
  }
});

describe('the interaction runner can fail', () => {
  it('reports a changed expectation', () => {
    const path = join(dir, 'election.txt');
    const expected = readFileSync(path, 'utf8');
    const tampered = expected.replace('send 2->1 vote-response term=2 pre granted', 'send 2->1 vote-response term=2 pre refused');
    expect(tampered).not.toBe(expected);
    expect(runScript(tampered)).not.toBe(tampered);
  });

  it('refuses a malformed script with the line number', () => {
    expect(() => runScript('cluster voters=1,2\nfrobnicate 1\n')).toThrow('line 2: unknown command frobnicate');
    expect(() => runScript('tick 1 100\n')).toThrow('line 1: the first command must be `cluster`');
  });

  // Each mutant breaks one rule the scripts pin down; the script covering that rule must then differ.
  const mutants = [
    {
      name: 'interaction-no-commit-rule',
      script: 'figure8.txt',
      description: 'the leader commits by counting replicas of any term (Figure 8)',
      edits: [{ file: 'core/raft/node.ts', find: 'if (candidate <= state.commit || logTerm(state, candidate) !== state.term) return false;', replace: 'if (candidate <= state.commit) return false;' }],
    },
    {
      name: 'interaction-no-hint',
      script: 'replication.txt',
      description: 'the leader ignores the rejection hint and steps back one entry at a time',
      edits: [{ file: 'core/raft/node.ts', find: 'pr.next = Math.max(Math.min(m.index, hinted + 1), pr.match + 1);', replace: 'pr.next = Math.max(m.index, pr.match + 1);' }],
    },
    {
      name: 'interaction-no-lease',
      script: 'checkquorum.txt',
      description: 'followers with a live leader grant votes anyway (no leader stickiness)',
      edits: [{ file: 'core/raft/node.ts', find: 'if (inLease && !m.transfer) return;', replace: 'void inLease;' }],
    },
    {
      name: 'interaction-read-before-commit',
      script: 'read-index.txt',
      description: 'a new leader serves reads before committing an entry of its term',
      edits: [{ file: 'core/raft/node.ts', find: '  if (state.commit < state.leaderStartIndex) {\n    state.readsAwaitingCommit.push', replace: '  if (false) {\n    state.readsAwaitingCommit.push' }],
    },
  ];
  for (const mutant of mutants) {
    it(`${mutant.script} catches mutant ${mutant.name}: ${mutant.description}`, async () => {
      const expected = readFileSync(join(dir, mutant.script), 'utf8');
      const actual = await withMutant<RaftCore, string>(mutant, 'core/raft/index.ts', (core) => runScript(expected, core));
      expect(actual).not.toBe(expected);
    });
  }
});
