// The real-etcd helper: clear errors without a binary, and (when etcd is installed) a loopback member that
// serves the v2 API with a settled index and leaves nothing behind when stopped.
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { etcdVersion, findEtcdBinary, freeLoopbackPort, startEtcd } from './etcd.ts';

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolveOpen) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolveOpen(true)));
    socket.once('error', () => resolveOpen(false));
  });
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('finding etcd', () => {
  it('an ETCD_BIN that is not executable is a one-line error', () => {
    expect(() => findEtcdBinary({ ETCD_BIN: '/nonexistent/etcd' })).toThrow(/^ETCD_BIN=\/nonexistent\/etcd is not an executable file$/);
  });

  it('a binary that is not etcd is refused with its path', async () => {
    expect(() => etcdVersion('/bin/false')).toThrow(/cannot run \/bin\/false --version/);
    await expect(startEtcd({ bin: '/bin/false' })).rejects.toThrow(/cannot run \/bin\/false --version/);
    expect(() => etcdVersion('/bin/echo')).toThrow(/unexpected output of \/bin\/echo --version/);
  });

  it('free ports are on loopback and usable', async () => {
    const port = await freeLoopbackPort();
    expect(port).toBeGreaterThan(0);
    expect(await portOpen(port)).toBe(false);
  });
});

const bin = findEtcdBinary();

describe.skipIf(bin === null)('a real etcd member', () => {
  it('serves the v2 API on loopback with the index settled, and stop removes everything', async () => {
    const server = await startEtcd({ name: 'support-test' });
    try {
      expect(server.version).toMatch(/^etcd Version: 3\./);
      expect(server.clientUrl).toBe(`http://127.0.0.1:${server.clientPort}`);
      expect(existsSync(server.dataDir)).toBe(true);
      const reply = await fetch(`${server.clientUrl}/v2/keys/`);
      expect(reply.status).toBe(200);
      expect(await reply.json()).toEqual({ action: 'get', node: { dir: true } });
      // etcd's own startup writes to the v2 store are over: the index does not move on its own.
      const first = reply.headers.get('x-etcd-index');
      await new Promise((r) => setTimeout(r, 600));
      expect((await fetch(`${server.clientUrl}/v2/keys/`)).headers.get('x-etcd-index')).toBe(first);
    } finally {
      await server.stop();
    }
    expect(processAlive(server.pid)).toBe(false);
    expect(existsSync(server.dataDir)).toBe(false);
    expect(await portOpen(server.clientPort)).toBe(false);
    await server.stop(); // idempotent
  });

  it('two members run side by side without sharing ports or data', async () => {
    const [a, b] = await Promise.all([startEtcd({ name: 'side-a' }), startEtcd({ name: 'side-b' })]);
    try {
      expect(new Set([a.clientPort, a.peerPort, b.clientPort, b.peerPort]).size).toBe(4);
      await fetch(`${a.clientUrl}/v2/keys/only-in-a`, { method: 'PUT', body: 'value=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      expect((await fetch(`${b.clientUrl}/v2/keys/only-in-a`)).status).toBe(404);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('a member that cannot start reports why in one line', async () => {
    await expect(startEtcd({ extraArgs: ['--no-such-flag'], readyTimeoutMs: 5_000 })).rejects.toThrow(/etcd exited during startup/);
  });
});
