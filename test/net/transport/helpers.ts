import { connect, createServer, type Server, type Socket } from 'node:net';
import { PeerTransport, type PeerTransportOptions } from '../../../net/transport/index.ts';

type TransportModule = typeof import('../../../net/transport/index.ts');

export interface Member {
  transport: PeerTransport;
  received: Array<{ from: string; text: string }>;
  logs: string[];
}

const open: Array<{ close(): Promise<void> | void }> = [];

/** Starts a member on 127.0.0.1; closed by `closeAll`. */
export async function startMember(
  memberId: string,
  overrides: Partial<PeerTransportOptions> = {},
  mod: TransportModule = { PeerTransport } as TransportModule,
): Promise<Member> {
  const received: Member['received'] = [];
  const logs: string[] = [];
  const transport = await mod.PeerTransport.listen({
    clusterId: 'test-cluster',
    memberId,
    port: 0,
    backoff: { initialMs: 5, maxMs: 40 },
    pingIntervalMs: 20,
    handshakeTimeoutMs: 2000,
    log: (line) => logs.push(line),
    onMessage: (from, body) => received.push({ from, text: new TextDecoder().decode(body) }),
    ...overrides,
  });
  open.push(transport);
  return { transport, received, logs };
}

export function track<T extends { close(): Promise<void> | void }>(thing: T): T {
  open.push(thing);
  return thing;
}

export async function closeAll(): Promise<void> {
  for (const thing of open.splice(0).reverse()) await thing.close();
}

export const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Polls `condition` every 5 ms until it holds or `timeoutMs` passes; bounded in both count and time. */
export async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < timeoutMs / 5 + 1 && Date.now() <= deadline; i++) {
    if (condition()) return true;
    await new Promise((r) => setTimeout(r, 5));
  }
  return condition();
}

/** A raw TCP client to poke a member with hand-made bytes; records whether and when the member closed it. */
export async function rawClient(port: number): Promise<{ socket: Socket; data: Buffer[]; closed: () => boolean }> {
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const data: Buffer[] = [];
  let isClosed = false;
  socket.on('data', (d: Buffer) => data.push(d));
  socket.on('error', () => undefined);
  socket.on('close', () => (isClosed = true));
  track({ close: () => void socket.destroy() });
  return { socket, data, closed: () => isClosed };
}

/**
 * A peer that completes the handshake and then stops reading: the kernel buffers fill and stay full, the way
 * a peer stuck in a long GC pause or on a saturated link behaves.
 */
export async function startStuckPeer(welcome: Uint8Array): Promise<{ server: Server; port: number }> {
  const sockets: Socket[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    socket.once('data', () => {
      socket.write(welcome);
      socket.pause();
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  track({
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  });
  const address = server.address();
  return { server, port: typeof address === 'object' && address ? address.port : 0 };
}
