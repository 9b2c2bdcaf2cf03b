// A local cluster of `raftsim serve` child processes, each with its own data dir, on loopback. Used by
// `raftsim cluster` and by the network tests (which kill -9 and restart members through it).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
  /** Extra node flags for every member (e.g. --cpu-prof to profile them; node refuses it in NODE_OPTIONS). */
  nodeArgs?: string[];
  /** Run members from this entry point (a bin/main.ts, e.g. of a mutated copy) instead of bin/raftsim. */
  entry?: string;
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
      `--initial-cluster=${this.members.map((x) => `${x.name}=${x.peerUrl}`).join(',')}`,
      `--initial-cluster-state=${state}`,
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
    const { entry, nodeArgs } = this.options;
    const child =
      entry === undefined && nodeArgs === undefined
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
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
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
