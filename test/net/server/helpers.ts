// Shared by the network tests: local clusters on ports the kernel hands out, with fast Raft timing, always torn
// down; and a bounded HTTP client that sends bytes exactly as given.
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { LocalCluster, type LocalClusterOptions } from '../../../net/cluster.ts';
import { freeLoopbackPort } from '../../support/etcd.ts';

/** Fast enough for tests, slow enough for a loaded 2-core machine. */
export const FAST_RAFT = { heartbeatIntervalMs: 50, electionTimeoutMs: 500 };

const started: LocalCluster[] = [];

export async function startTestCluster(size: number, options: Partial<LocalClusterOptions> = {}): Promise<LocalCluster> {
  const members = [];
  for (let i = 0; i < size; i++) members.push({ name: `m${i + 1}`, clientPort: await freeLoopbackPort(), peerPort: await freeLoopbackPort() });
  const cluster = new LocalCluster({ members, ...FAST_RAFT, ...options });
  started.push(cluster);
  cluster.start();
  await cluster.waitHealthy(30_000);
  return cluster;
}

/** Stops every cluster this file started (call from afterAll). */
export async function stopAllClusters(): Promise<void> {
  await Promise.all(started.splice(0).map((c) => c.stop()));
}

export interface HttpReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface HttpOptions {
  method?: string;
  body?: string | Buffer;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/** One HTTP request on a fresh connection; rejects on timeout (default 10 s). */
export function http(url: string, options: HttpOptions = {}): Promise<HttpReply> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.body !== undefined) {
      headers['content-length'] ??= String(Buffer.byteLength(options.body));
      headers['content-type'] ??= 'application/x-www-form-urlencoded';
    }
    const req = httpRequest({ host: u.hostname, port: u.port, method: options.method ?? 'GET', path: u.pathname + u.search, headers, agent: false, timeout: options.timeoutMs ?? 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${options.method ?? 'GET'} ${url}: no reply within ${options.timeoutMs ?? 10_000} ms`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Writes raw bytes on a TCP connection and collects what comes back until the server closes (bounded). */
export function rawExchange(port: number, chunks: Array<string | Buffer>, options: { pauseMs?: number; timeoutMs?: number } = {}): Promise<{ text: string; closedByServer: boolean }> {
  return new Promise((resolve) => {
    const socket: Socket = connect(port, '127.0.0.1');
    let text = '';
    let finished = false;
    const finish = (closedByServer: boolean) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ text, closedByServer });
    };
    const timer = setTimeout(() => finish(false), options.timeoutMs ?? 5000);
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.on('close', () => finish(true));
    socket.on('error', () => finish(true));
    socket.on('connect', async () => {
      for (const c of chunks) {
        if (finished) return;
        socket.write(c);
        if (options.pauseMs !== undefined) await new Promise((r) => setTimeout(r, options.pauseMs));
      }
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The leader's client URL, as the members report it on /v2/stats/self (bounded wait). */
export async function leaderOf(cluster: LocalCluster, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const m of cluster.members.filter((x) => x.process !== null)) {
      const reply = await http(`${m.clientUrl}/v2/stats/self`, { timeoutMs: 1000 }).catch(() => null);
      if (reply !== null && (JSON.parse(reply.body) as { state: string }).state === 'StateLeader') return m.name;
    }
    await sleep(50);
  }
  throw new Error('no leader found');
}
