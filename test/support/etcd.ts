// Starts and stops a real, single-member etcd for tests and fixture recording.
// Everything listens on 127.0.0.1 only, on ports the kernel hands out, with a fresh data directory that is
// removed on stop, so runs never see each other's keys. The v2 API is switched on because etcd 3.4 serves
// it only when asked (`--enable-v2=true`).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { etcdVersion, findEtcdBinary, freeLoopbackPort } from '../../net/cluster.ts';

export { etcdVersion, findEtcdBinary, freeLoopbackPort };

export interface EtcdServer {
  /** `http://127.0.0.1:<port>`, without a trailing slash. */
  clientUrl: string;
  clientPort: number;
  peerPort: number;
  dataDir: string;
  /** First line of `etcd --version`, e.g. `etcd Version: 3.4.23`. */
  version: string;
  pid: number;
  /** Everything etcd wrote to stdout and stderr so far (for failure messages). */
  log(): string;
  /** Kills etcd (SIGTERM, then SIGKILL after a grace period) and deletes its data directory. Idempotent. */
  stop(): Promise<void>;
}

export interface StartEtcdOptions {
  /** Path of the etcd binary; defaults to `findEtcdBinary()`. */
  bin?: string;
  /** Member name, also used in the temp dir name. */
  name?: string;
  /** Serve the v2 keys API; defaults to true. */
  enableV2?: boolean;
  /** Extra command-line flags appended after the ones this module sets. */
  extraArgs?: string[];
  /** How long to wait for a healthy, fully started member before giving up. */
  readyTimeoutMs?: number;
}

const LOOPBACK = '127.0.0.1';
const STOP_GRACE_MS = 5_000;

/** GET on loopback returning status and body, or null when nothing answers (yet). Bounded by `timeoutMs`. */
function probe(url: string, timeoutMs: number): Promise<{ status: number; body: string } | null> {
  return new Promise((resolveProbe) => {
    const req = get(url, { timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolveProbe({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolveProbe(null));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolveProbe(null));
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Healthy is not enough for a stable v2 index: right after the first election etcd still writes its own
 * membership attributes and the cluster version into the v2 store, and each of those bumps the index. The
 * member is ready once /health says so and /version reports a decided cluster version.
 */
async function waitReady(clientUrl: string, child: ChildProcess, deadline: number, log: () => string): Promise<void> {
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`etcd exited during startup (${child.exitCode ?? child.signalCode}): ${lastLines(log(), 5)}`);
    }
    const health = await probe(`${clientUrl}/health`, 1_000);
    const version = health?.status === 200 ? await probe(`${clientUrl}/version`, 1_000) : null;
    if (health !== null && /"health":\s*"true"/.test(health.body) && version !== null) {
      const cluster = (JSON.parse(version.body) as { etcdcluster?: string }).etcdcluster;
      if (cluster !== undefined && cluster !== 'not_decided') return;
    }
    if (Date.now() > deadline) throw new Error(`etcd did not become ready within the timeout: ${lastLines(log(), 5)}`);
    await sleep(50);
  }
}

function lastLines(text: string, n: number): string {
  return text.trim().split('\n').slice(-n).join(' | ');
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/** A crashed test run must not leave etcd processes behind. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

interface EtcdProcess {
  child: ChildProcess;
  output(): string;
  /** SIGTERM, then SIGKILL after a grace period; resolves once the process is gone. Idempotent. */
  kill(): Promise<void>;
}

function spawnEtcd(bin: string, args: string[]): EtcdProcess {
  // A clean environment: ETCD_* variables from the host would silently override the flags.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCD_')));
  const child = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  installExitHook();
  let output = '';
  const append = (chunk: Buffer) => {
    // Keep the tail only: a long run must not grow memory without bound.
    output = (output + chunk.toString('utf8')).slice(-64_000);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.once('exit', () => running.delete(child));
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    }
  };
  return { child, output: () => output, kill };
}

async function startOnce(bin: string, options: StartEtcdOptions, version: string): Promise<EtcdServer> {
  const name = options.name ?? 'raftsim-test';
  const [clientPort, peerPort] = [await freeLoopbackPort(), await freeLoopbackPort()];
  const dataDir = mkdtempSync(join(tmpdir(), `raftsim-etcd-${name}-`));
  const clientUrl = `http://${LOOPBACK}:${clientPort}`;
  const peerUrl = `http://${LOOPBACK}:${peerPort}`;
  const args = [
    `--name=${name}`,
    `--data-dir=${join(dataDir, 'data')}`,
    `--listen-client-urls=${clientUrl}`,
    `--advertise-client-urls=${clientUrl}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=${name}=${peerUrl}`,
    '--initial-cluster-state=new',
    `--enable-v2=${options.enableV2 ?? true}`,
    ...(options.extraArgs ?? []),
  ];
  const etcd = spawnEtcd(bin, args);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (!stopped) {
      stopped = true;
      await etcd.kill();
      rmSync(dataDir, { recursive: true, force: true });
    }
  };

  try {
    await waitReady(clientUrl, etcd.child, Date.now() + (options.readyTimeoutMs ?? 20_000), etcd.output);
  } catch (err) {
    await stop();
    throw err;
  }
  return { clientUrl, clientPort, peerPort, dataDir, version, pid: etcd.child.pid ?? -1, log: etcd.output, stop };
}

/** Runs `start` again (up to 3 times in all) when a port chosen as free was taken in between. */
async function retryTakenPorts<T>(start: () => Promise<T>): Promise<T> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await start();
    } catch (err) {
      lastError = err;
      if (!/address already in use/i.test(String(err))) break;
    }
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

/**
 * Starts a fresh single-member etcd on loopback and resolves once it serves requests with a settled v2 index.
 * Throws a one-line error when there is no etcd binary or it does not come up; retries a few times when a
 * port chosen as free was taken in between.
 */
export async function startEtcd(options: StartEtcdOptions = {}): Promise<EtcdServer> {
  const bin = options.bin ?? findEtcdBinary();
  if (bin === null) throw new Error('no etcd binary found (install etcd-server or set ETCD_BIN)');
  const version = etcdVersion(bin);
  return retryTakenPorts(() => startOnce(bin, options, version));
}

export interface EtcdCluster {
  /** One `http://127.0.0.1:<port>` per member, in member order. */
  clientUrls: string[];
  /** Parent of the members' data directories. */
  dataDir: string;
  version: string;
  pids: number[];
  /** Each member's output so far, by name (for failure messages). */
  log(): string;
  /** Stops every member (SIGTERM, then SIGKILL after a grace period) and deletes the data. Idempotent. */
  stop(): Promise<void>;
}

export interface StartEtcdClusterOptions extends Omit<StartEtcdOptions, 'name'> {
  /** Number of members (default 3). */
  size?: number;
  /** Where the cluster's temp data dir goes (default the OS temp dir). */
  parentDir?: string;
}

async function startClusterOnce(bin: string, options: StartEtcdClusterOptions, version: string): Promise<EtcdCluster> {
  const size = options.size ?? 3;
  const members: { name: string; clientUrl: string; peerUrl: string }[] = [];
  for (let i = 0; i < size; i++) {
    const [clientPort, peerPort] = [await freeLoopbackPort(), await freeLoopbackPort()];
    members.push({ name: `etcd${i + 1}`, clientUrl: `http://${LOOPBACK}:${clientPort}`, peerUrl: `http://${LOOPBACK}:${peerPort}` });
  }
  const dataDir = mkdtempSync(join(options.parentDir ?? tmpdir(), 'raftsim-etcd-cluster-'));
  const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  const processes = members.map((m) =>
    spawnEtcd(bin, [
      `--name=${m.name}`,
      `--data-dir=${join(dataDir, m.name)}`,
      `--listen-client-urls=${m.clientUrl}`,
      `--advertise-client-urls=${m.clientUrl}`,
      `--listen-peer-urls=${m.peerUrl}`,
      `--initial-advertise-peer-urls=${m.peerUrl}`,
      `--initial-cluster=${initialCluster}`,
      '--initial-cluster-state=new',
      `--initial-cluster-token=${basename(dataDir)}`,
      `--enable-v2=${options.enableV2 ?? true}`,
      ...(options.extraArgs ?? []),
    ]),
  );
  const log = () => processes.map((p, i) => `${members[i]!.name}: ${lastLines(p.output(), 5)}`).join('\n');
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await Promise.all(processes.map((p) => p.kill()));
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
    await Promise.all(processes.map((p, i) => waitReady(members[i]!.clientUrl, p.child, deadline, p.output)));
  } catch (err) {
    await stop();
    throw err;
  }
  return { clientUrls: members.map((m) => m.clientUrl), dataDir, version, pids: processes.map((p) => p.child.pid ?? -1), log, stop };
}

/**
 * Starts a fresh etcd cluster of `size` members on loopback (own data dirs under one temp dir) and resolves
 * once every member serves with a decided cluster version. Retries a few times when a port was taken.
 */
export async function startEtcdCluster(options: StartEtcdClusterOptions = {}): Promise<EtcdCluster> {
  const bin = options.bin ?? findEtcdBinary();
  if (bin === null) throw new Error('no etcd binary found (install etcd-server or set ETCD_BIN)');
  const version = etcdVersion(bin);
  return retryTakenPorts(() => startClusterOnce(bin, options, version));
}
