// Starting a throwaway 3-member raftsim cluster on loopback for the demo and the test (`raftsim cluster`), when
// this checkout has that command.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commands } from '../../bin/commands.ts';
import { REPO_ROOT, spawnChild, waitUntil, type Child } from './processes.ts';

export const HOW_TO_GET_ENDPOINTS = [
  'this checkout has no `raftsim cluster` command yet, so the demo cannot start its own cluster.',
  'Start any etcd-v2-compatible cluster and pass its client URLs, for example etcd 3.4 with the v2 API:',
  '  etcd --enable-v2=true --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 &',
  '  npx tsx examples/service-discovery/demo.ts --endpoints http://127.0.0.1:2379',
].join('\n');

export function raftsimClusterAvailable(): boolean {
  return commands.some((c) => c.name === 'cluster');
}

export interface LocalCluster {
  endpoints: string[];
  process: Child;
  stop(): Promise<void>;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolveFree) => {
    const server = createServer();
    server.once('error', () => resolveFree(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolveFree(true)));
  });
}

/** A base port with `count` consecutive free loopback ports after it (random, so parallel runs rarely meet). */
async function freePortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    let free = true;
    for (let p = base; p < base + count && free; p++) free = await portFree(p);
    if (free) return base;
  }
  throw new Error(`found no ${count} consecutive free loopback ports`);
}

/**
 * Runs `raftsim cluster --size N` in its own process group and resolves with the endpoints it prints
 * (`endpoints: URL,URL,...`). Retries once on a port clash; throws one line if it does not come up in time.
 */
export async function startRaftsimCluster(size = 3, readyTimeoutMs = 40_000): Promise<LocalCluster> {
  let lastError = '';
  for (let attempt = 0; attempt < 2; attempt++) {
    const dataDir = mkdtempSync(join(tmpdir(), 'service-discovery-cluster-'));
    const basePort = await freePortRange(2 * size);
    const child = spawnChild({
      name: 'raftsim cluster',
      command: join(REPO_ROOT, 'bin/raftsim'),
      args: ['cluster', '--size', String(size), '--base-port', String(basePort), '--data-dir', dataDir],
      group: true,
    });
    const endpointsLine = () => /^endpoints: (\S+)$/m.exec(child.output())?.[1];
    await waitUntil(() => endpointsLine() !== undefined || !child.isRunning(), readyTimeoutMs, 50);
    const line = endpointsLine();
    const stop = async () => {
      await child.stop();
      rmSync(dataDir, { recursive: true, force: true });
    };
    if (line !== undefined && child.isRunning()) return { endpoints: line.split(','), process: child, stop };
    await stop();
    lastError = child.stderr().trim().split('\n').slice(-3).join(' | ') || `no endpoints within ${readyTimeoutMs} ms`;
    if (!/in use/i.test(lastError)) break;
  }
  throw new Error(`raftsim cluster did not start: ${lastError}`);
}
