// A local cluster of `raftsim serve` child processes, each with its own data dir, on loopback. Used by
// `raftsim cluster`, `raftsim jepsen` and the network tests (which kill -9, pause and restart members through it).
// The members take etcd's own flags, so the same launcher runs a real etcd cluster when given its binary.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ClusterMemberSpec {
  name: string;
  clientPort: number;
  peerPort: number;
}

export interface LocalClusterOptions {
  /** Number of members (default 3). */
  size?: number;
  /** Member i listens for clients on basePort + 2i and for peers on basePort + 2i + 1 (default 2379). */
  basePort?: number;
  /** Explicit ports per member (overrides size and basePort): tests pass ports the kernel handed out. */
  members?: ClusterMemberSpec[];
  /** Parent of the members' data dirs; default a fresh temp dir removed by stop(). */
  dataDir?: string;
  host?: string;
  token?: string;
  heartbeatIntervalMs?: number;
  electionTimeoutMs?: number;
  /** Extra flags for every member. */
  extraArgs?: string[];
  /** Bootstrap through this etcd v2 discovery URL instead of --initial-cluster (the token's size must be set). */
  discovery?: string;
  /** Extra node flags for every member (e.g. --cpu-prof to profile them; node refuses it in NODE_OPTIONS). */
  nodeArgs?: string[];
  /** Run members from this entry point (a bin/main.ts, e.g. of a mutated copy) instead of bin/raftsim. */
  entry?: string;
  /** Run this etcd-compatible server binary (e.g. /usr/bin/etcd) with the same flags instead of `raftsim serve`. */
  program?: string;
  /** Each line a member writes to stderr or stdout, with its name (default: kept in memory only). */
  onOutput?: (name: string, line: string) => void;
  /** Called when a member exits without stop() or kill() asking it to. */
  onUnexpectedExit?: (name: string, code: number | null, signal: string | null) => void;
}

export interface ClusterMember {
  name: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  /** null while the member is not running. */
  process: ChildProcess | null;
  /** The tail of what it wrote (for failure messages). */
  output(): string;
}

const RAFTSIM_BIN = fileURLToPath(new URL('../bin/raftsim', import.meta.url));
const RAFTSIM_MAIN = fileURLToPath(new URL('../bin/main.ts', import.meta.url));
/** The node flags bin/raftsim gives `serve`, for members started without it. */
const SERVE_NODE_FLAGS = ['--max-semi-space-size=32'];
const TSX_LOADER = fileURLToPath(new URL('../node_modules/tsx/dist/esm/index.mjs', import.meta.url));
const STOP_GRACE_MS = 5_000;
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A parent that dies must not leave members behind.
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

function probe(url: string, timeoutMs: number): Promise<{ status: number; body: string } | null> {
  return new Promise((resolve) => {
    const req = get(url, { timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve(null));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const KNOWN_ETCD_LOCATIONS = ['/usr/bin/etcd', '/usr/local/bin/etcd', '/usr/sbin/etcd'];

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The etcd binary to use: `$ETCD_BIN` if set (and then it must exist), else the first `etcd` on PATH, else a
 * few usual install locations. Returns null when there is none, so callers can skip rather than crash.
 */
export function findEtcdBinary(env: NodeJS.ProcessEnv = process.env): string | null {
  const explicit = env.ETCD_BIN;
  if (explicit !== undefined && explicit !== '') {
    if (!isExecutable(explicit)) throw new Error(`ETCD_BIN=${explicit} is not an executable file`);
    return explicit;
  }
  const onPath = (env.PATH ?? '').split(delimiter).filter((d) => d !== '').map((d) => join(d, 'etcd'));
  return [...onPath, ...KNOWN_ETCD_LOCATIONS].find(isExecutable) ?? null;
}

/** First line of `etcd --version` (the etcd-v2 fixture records it verbatim). */
export function etcdVersion(bin: string): string {
  const out = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (out.error !== undefined || out.status !== 0) {
    throw new Error(`cannot run ${bin} --version: ${out.error?.message ?? out.stderr.trim()}`);
  }
  const first = out.stdout.split('\n')[0]?.trim() ?? '';
  if (!first.startsWith('etcd Version:')) throw new Error(`unexpected output of ${bin} --version: ${first}`);
  return first;
}

/** A loopback port that was free a moment ago; the caller retries if another process grabs it first. */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolvePort(port) : reject(new Error('no port assigned'))));
    });
  });
}

export class LocalCluster {
  readonly members: ClusterMember[];
  private readonly options: LocalClusterOptions;
  private readonly ownsDataDir: boolean;
  private readonly root: string;
  private readonly outputs = new Map<string, string>();
  private readonly expectedExit = new Set<ChildProcess>();

  constructor(options: LocalClusterOptions = {}) {
    this.options = options;
    const host = options.host ?? '127.0.0.1';
    const basePort = options.basePort ?? 2379;
    const specs = options.members ?? Array.from({ length: options.size ?? 3 }, (_, i) => ({ name: `m${i + 1}`, clientPort: basePort + 2 * i, peerPort: basePort + 2 * i + 1 }));
    if (specs.length === 0) throw new RangeError('a cluster needs at least one member');
    this.ownsDataDir = options.dataDir === undefined;
    this.root = options.dataDir ?? mkdtempSync(join(tmpdir(), 'raftsim-cluster-'));
    mkdirSync(this.root, { recursive: true });
    this.members = specs.map((s) => ({
      name: s.name,
      clientUrl: `http://${host}:${s.clientPort}`,
      peerUrl: `http://${host}:${s.peerPort}`,
      dataDir: join(this.root, s.name),
      process: null,
      output: () => this.outputs.get(s.name) ?? '',
    }));
  }

  get endpoints(): string[] {
    return this.members.map((m) => m.clientUrl);
  }

  member(name: string): ClusterMember {
    const m = this.members.find((x) => x.name === name);
    if (m === undefined) throw new Error(`no member ${name}`);
    return m;
  }

  /** The flags `raftsim serve` gets for member `name` (also useful to print for the operator). */
  argsFor(name: string, state: 'new' | 'existing' = 'new'): string[] {
    const m = this.member(name);
    const o = this.options;
    return [
      `--name=${m.name}`,
      `--data-dir=${m.dataDir}`,
      `--listen-client-urls=${m.clientUrl}`,
      `--advertise-client-urls=${m.clientUrl}`,
      `--listen-peer-urls=${m.peerUrl}`,
      `--initial-advertise-peer-urls=${m.peerUrl}`,
      ...(o.discovery === undefined
        ? [`--initial-cluster=${this.members.map((x) => `${x.name}=${x.peerUrl}`).join(',')}`, `--initial-cluster-state=${state}`]
        : [`--discovery=${o.discovery}`]),
      `--initial-cluster-token=${o.token ?? 'raftsim-local'}`,
      ...(o.heartbeatIntervalMs === undefined ? [] : [`--heartbeat-interval=${o.heartbeatIntervalMs}`]),
      ...(o.electionTimeoutMs === undefined ? [] : [`--election-timeout=${o.electionTimeoutMs}`]),
      ...(o.extraArgs ?? []),
    ];
  }

  /** Starts every member that is not running. */
  start(): void {
    for (const m of this.members) if (m.process === null) this.startMember(m.name);
  }

  startMember(name: string): void {
    const m = this.member(name);
    if (m.process !== null) throw new Error(`${name} is already running`);
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCD_')));
    const args = ['serve', ...this.argsFor(name)];
    const { entry, program, nodeArgs } = this.options;
    const child =
      program !== undefined
        ? spawn(program, args.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] })
        : entry === undefined && nodeArgs === undefined
          ? spawn(RAFTSIM_BIN, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
          : spawn(process.execPath, [...SERVE_NODE_FLAGS, '--import', TSX_LOADER, ...(nodeArgs ?? []), entry ?? RAFTSIM_MAIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    installExitHook();
    m.process = child;
    let partial = '';
    const onData = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      // Keep the tail only: a long run must not grow memory without bound.
      this.outputs.set(name, ((this.outputs.get(name) ?? '') + text).slice(-32_000));
      partial += text;
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) this.options.onOutput?.(name, line);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code, signal) => {
      live.delete(child);
      if (m.process === child) m.process = null;
      if (!this.expectedExit.delete(child)) this.options.onUnexpectedExit?.(name, code, signal);
    });
  }

  /** Sends `signal` to a member and waits for it to exit (SIGKILL after a grace period). */
  async stopMember(name: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.member(name).process;
    if (child === null) return;
    this.expectedExit.add(child);
    const exited = new Promise<void>((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r())));
    child.kill(signal);
    // A paused (SIGSTOPped) member acts on the signal only once it runs again.
    if (signal !== 'SIGKILL') child.kill('SIGCONT');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  }

  /** Freezes a running member (SIGSTOP) or lets it run again (SIGCONT); false when it is not running. */
  signalMember(name: string, signal: 'SIGSTOP' | 'SIGCONT'): boolean {
    const child = this.member(name).process;
    return child !== null && child.kill(signal);
  }

  /** Waits until every running member reports a leader on /health (bounded by timeoutMs). */
  async waitHealthy(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const running = this.members.filter((m) => m.process !== null);
      const replies = await Promise.all(running.map((m) => probe(`${m.clientUrl}/health`, 1000)));
      if (running.length > 0 && replies.every((r) => r?.status === 200)) return;
      if (Date.now() > deadline) {
        const tails = running.map((m) => `${m.name}: ${m.output().trim().split('\n').slice(-2).join(' | ')}`);
        throw new Error(`cluster not healthy within ${timeoutMs} ms (${tails.join('; ')})`);
      }
      await sleep(50);
    }
  }

  /** Stops every member (SIGTERM, then SIGKILL after a grace period) and removes a temp data dir. */
  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => this.stopMember(m.name)));
    if (this.ownsDataDir) rmSync(this.root, { recursive: true, force: true });
  }
}
