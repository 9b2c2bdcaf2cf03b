// Persistent TCP links between cluster members. Each member dials every peer and uses that connection to send;
// what a peer sends arrives on the connection the peer dialed. So each direction has its own connection, its own
// bounded queue and its own reconnect loop, and a slow or dead peer holds up nobody but itself.
import { createServer, connect, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { FrameDecoder, FrameError, PROTOCOL_VERSION, encodeFrame, type Envelope } from './frame.ts';
import { BoundedFrameQueue, backoffDelay } from './queue.ts';

export interface PeerAddress {
  host: string;
  port: number;
}

export interface PeerTransportOptions {
  clusterId: string;
  memberId: string;
  /** Where to listen for peers (default 127.0.0.1, port 0 = any free port). */
  host?: string;
  port?: number;
  peers?: Record<string, PeerAddress>;
  /** Called for every message a peer sends; an exception is logged and does not close the connection. */
  onMessage: (from: string, body: Uint8Array) => void;
  /** Frames larger than this close the connection that carried them (default 8 MiB). */
  maxFrameBytes?: number;
  /** Per-peer outbound bound, in messages and bytes (defaults 4096 and 64 MiB). */
  queueMessages?: number;
  queueBytes?: number;
  /** Reconnect delays grow from initialMs to maxMs (defaults 50 and 2000), with jitter from `random`. */
  backoff?: { initialMs: number; maxMs: number };
  random?: () => number;
  /** Round-trip probes on each open connection (default every 1000 ms; 0 disables). */
  pingIntervalMs?: number;
  /** A connection must complete the handshake within this time (default 5000 ms). */
  handshakeTimeoutMs?: number;
  maxInboundConnections?: number;
  log?: (line: string) => void;
  /** Monotonic milliseconds, for round-trip times (default performance.now). */
  now?: () => number;
}

export interface RoundTripStats {
  samples: number;
  lastMs: number;
  minMs: number;
  maxMs: number;
  meanMs: number;
  stddevMs: number;
}

export interface PeerStats {
  address: PeerAddress;
  connected: boolean;
  /** Messages waiting for the connection. */
  queued: number;
  /** Messages written to an open connection. */
  sent: number;
  sentBytes: number;
  /** Messages discarded: queue overflow, too large, or still queued when the peer was removed. */
  dropped: number;
  /** Connection attempts that failed or were refused, and open connections that were lost. */
  connectionFailures: number;
  /** Times a connection was established (the first included). */
  connects: number;
  /** Messages received from this peer, on the connection it dialed. */
  received: number;
  receivedBytes: number;
  roundTrip: RoundTripStats | null;
  lastError: string | null;
}

/** Frames are joined into writes of about this size (one larger frame goes alone). */
const MAX_WRITE_BYTES = 256 * 1024;

type LinkState = 'idle' | 'connecting' | 'open' | 'backoff' | 'closed';

interface RoundTripAccumulator {
  samples: number;
  last: number;
  min: number;
  max: number;
  sum: number;
  sumSquares: number;
}

/** The outbound side toward one peer: queue, connection and reconnect loop. */
class OutboundLink {
  state: LinkState = 'idle';
  socket: Socket | null = null;
  readonly queue: BoundedFrameQueue;
  attempt = 0;
  timer: NodeJS.Timeout | null = null;
  pingTimer: NodeJS.Timeout | null = null;
  drainScheduled = false;
  nextPingId = 1;
  readonly pingsInFlight = new Map<number, number>();
  sent = 0;
  sentBytes = 0;
  droppedOther = 0;
  connectionFailures = 0;
  connects = 0;
  lastError: string | null = null;
  rtt: RoundTripAccumulator = { samples: 0, last: 0, min: Infinity, max: 0, sum: 0, sumSquares: 0 };
  received = 0;
  receivedBytes = 0;

  constructor(
    readonly id: string,
    public address: PeerAddress,
    limits: { maxMessages: number; maxBytes: number },
  ) {
    this.queue = new BoundedFrameQueue(limits);
  }
}

export class PeerTransport {
  private readonly links = new Map<string, OutboundLink>();
  /** Accepted connections, with the peer each one belongs to once its handshake succeeded. */
  private readonly inbound = new Map<Socket, string | null>();
  private readonly opts: Required<Omit<PeerTransportOptions, 'peers' | 'onMessage' | 'host' | 'port'>>;
  private closed = false;

  private constructor(
    private readonly server: Server,
    readonly address: PeerAddress,
    private readonly onMessage: (from: string, body: Uint8Array) => void,
    options: PeerTransportOptions,
  ) {
    this.opts = {
      clusterId: options.clusterId,
      memberId: options.memberId,
      maxFrameBytes: options.maxFrameBytes ?? 8 * 1024 * 1024,
      queueMessages: options.queueMessages ?? 4096,
      queueBytes: options.queueBytes ?? 64 * 1024 * 1024,
      backoff: options.backoff ?? { initialMs: 50, maxMs: 2000 },
      random: options.random ?? Math.random,
      pingIntervalMs: options.pingIntervalMs ?? 1000,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 5000,
      maxInboundConnections: options.maxInboundConnections ?? 64,
      log: options.log ?? ((line: string) => process.stderr.write(line + '\n')),
      now: options.now ?? (() => performance.now()),
    };
  }

  /** Starts listening and dials every configured peer. */
  static async listen(options: PeerTransportOptions): Promise<PeerTransport> {
    validateOptions(options);
    const server = createServer();
    const host = options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((err: NodeJS.ErrnoException) => {
      throw new Error(`transport: cannot listen on ${host}:${options.port ?? 0}: ${err.code ?? err.message}`);
    });
    const bound = server.address();
    const port = typeof bound === 'object' && bound ? bound.port : (options.port ?? 0);
    const transport = new PeerTransport(server, { host, port }, options.onMessage, options);
    server.on('connection', (socket) => transport.accept(socket));
    server.on('error', (err) => transport.opts.log(`transport ${options.memberId}: listener error: ${err.message}`));
    for (const [id, address] of Object.entries(options.peers ?? {})) transport.addPeer(id, address);
    return transport;
  }

  /** Adds (or re-addresses) a peer and starts connecting to it. */
  addPeer(id: string, address: PeerAddress): void {
    if (this.closed) return;
    if (id === this.opts.memberId) throw new Error(`transport: cannot add self (${id}) as a peer`);
    const existing = this.links.get(id);
    if (existing) {
      if (existing.address.host === address.host && existing.address.port === address.port) return;
      existing.address = address;
      this.dropConnection(existing, 'peer address changed', false);
      this.connect(existing);
      return;
    }
    const link = new OutboundLink(id, address, { maxMessages: this.opts.queueMessages, maxBytes: this.opts.queueBytes });
    this.links.set(id, link);
    this.connect(link);
  }

  /** Forgets a peer: closes its connection and discards what it had queued. */
  removePeer(id: string): void {
    const link = this.links.get(id);
    if (!link) return;
    link.state = 'closed';
    this.stopTimers(link);
    link.socket?.destroy();
    link.socket = null;
    link.droppedOther += link.queue.clear();
    this.links.delete(id);
    // A removed member stops being heard too: its connections to us close, and its redials are refused.
    for (const [socket, from] of this.inbound) if (from === id) socket.destroy();
  }

  peerIds(): string[] {
    return [...this.links.keys()];
  }

  /**
   * Queues a message for a peer and returns at once; false if it could not be queued (unknown peer, too
   * large, or a full queue of undroppable messages). Delivery is best effort, as Raft expects of its network.
   */
  send(to: string, body: Uint8Array, options: { droppable?: boolean } = {}): boolean {
    const link = this.links.get(to);
    if (!link || this.closed) return false;
    const frame = encodeFrame({ k: 'msg', body });
    if (frame.length - 4 > this.opts.maxFrameBytes) {
      link.droppedOther++;
      link.lastError = `message of ${body.length} bytes exceeds the frame maximum of ${this.opts.maxFrameBytes}`;
      return false;
    }
    const queued = link.queue.push({ frame, droppable: options.droppable ?? true });
    if (link.state === 'open' && !link.drainScheduled) {
      // The first message of a turn leaves at once (no delay for a lone message); the rest of the turn's wait
      // and leave together.
      this.drain(link);
      this.scheduleDrain(link);
    }
    return queued;
  }

  stats(): Record<string, PeerStats> {
    const out: Record<string, PeerStats> = {};
    for (const [id, link] of this.links) {
      const r = link.rtt;
      const mean = r.samples ? r.sum / r.samples : 0;
      out[id] = {
        address: { ...link.address },
        connected: link.state === 'open',
        queued: link.queue.length,
        sent: link.sent,
        sentBytes: link.sentBytes,
        dropped: link.queue.dropped + link.droppedOther,
        connectionFailures: link.connectionFailures,
        connects: link.connects,
        received: link.received,
        receivedBytes: link.receivedBytes,
        roundTrip: r.samples
          ? { samples: r.samples, lastMs: r.last, minMs: r.min, maxMs: r.max, meanMs: mean, stddevMs: Math.sqrt(Math.max(0, r.sumSquares / r.samples - mean * mean)) }
          : null,
        lastError: link.lastError,
      };
    }
    return out;
  }

  /** Stops listening, closes every connection and timer. Queued messages are discarded. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const id of [...this.links.keys()]) this.removePeer(id);
    for (const socket of this.inbound.keys()) socket.destroy();
    this.inbound.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- outbound ----

  private connect(link: OutboundLink): void {
    if (this.closed || link.state === 'closed') return;
    link.state = 'connecting';
    const socket = connect({ host: link.address.host, port: link.address.port });
    link.socket = socket;
    socket.setNoDelay(true);
    const decoder = new FrameDecoder(this.opts.maxFrameBytes);
    let welcomed = false;
    link.timer = setTimeout(() => this.failConnection(link, socket, `no handshake within ${this.opts.handshakeTimeoutMs} ms`), this.opts.handshakeTimeoutMs);
    socket.on('connect', () => {
      socket.write(encodeFrame({ k: 'hello', v: PROTOCOL_VERSION, cluster: this.opts.clusterId, from: this.opts.memberId, to: link.id }));
    });
    socket.on('data', (chunk: Buffer) => {
      let envelopes: Envelope[];
      try {
        envelopes = decoder.push(chunk);
      } catch (err) {
        this.failConnection(link, socket, (err as Error).message);
        return;
      }
      for (const envelope of envelopes) {
        if (link.socket !== socket) return;
        if (!welcomed) {
          if (envelope.k === 'welcome') {
            welcomed = true;
            this.opened(link);
          } else if (envelope.k === 'refuse') {
            this.failConnection(link, socket, `refused by ${link.id}: ${envelope.reason}`);
            return;
          } else {
            this.failConnection(link, socket, `unexpected '${envelope.k}' frame before the handshake completed`);
            return;
          }
        } else if (envelope.k === 'pong') {
          this.recordPong(link, envelope.id);
        } else {
          this.failConnection(link, socket, `unexpected '${envelope.k}' frame on an outbound connection`);
          return;
        }
      }
    });
    socket.on('drain', () => {
      if (link.socket === socket && link.state === 'open') this.drain(link);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => this.failConnection(link, socket, err.code ?? err.message));
    socket.on('close', () => this.failConnection(link, socket, 'connection closed'));
  }

  private opened(link: OutboundLink): void {
    if (link.timer) clearTimeout(link.timer);
    link.timer = null;
    link.state = 'open';
    link.attempt = 0;
    link.connects++;
    link.lastError = null;
    if (link.connects > 1) this.opts.log(`transport ${this.opts.memberId}: reconnected to ${link.id}`);
    if (this.opts.pingIntervalMs > 0) {
      link.pingTimer = setInterval(() => this.ping(link), this.opts.pingIntervalMs);
      this.ping(link);
    }
    this.drain(link);
  }

  /**
   * Drains once the current event-loop turn is done, so the frames queued in it go out in one write: under load
   * a write syscall per message cost more CPU than everything else in a Raft round trip (profile of
   * bench/net.ts).
   */
  private scheduleDrain(link: OutboundLink): void {
    if (link.drainScheduled) return;
    link.drainScheduled = true;
    setImmediate(() => {
      link.drainScheduled = false;
      this.drain(link);
    });
  }

  /** Writes queued frames, batched, until the socket pushes back; the rest waits in the bounded queue for 'drain'. */
  private drain(link: OutboundLink): void {
    const socket = link.socket;
    if (!socket || link.state !== 'open') return;
    while (!socket.writableNeedDrain && link.queue.length > 0) {
      const frames: Uint8Array[] = [];
      let bytes = 0;
      while (bytes < MAX_WRITE_BYTES) {
        const item = link.queue.shift();
        if (!item) break;
        frames.push(item.frame);
        bytes += item.frame.length;
      }
      link.sent += frames.length;
      link.sentBytes += bytes;
      if (!socket.write(frames.length === 1 ? frames[0]! : Buffer.concat(frames, bytes))) return;
    }
  }

  private ping(link: OutboundLink): void {
    const socket = link.socket;
    if (!socket || link.state !== 'open' || socket.writableNeedDrain) return;
    const id = link.nextPingId++;
    // Only the latest few probes are remembered, so a peer that never answers cannot grow this map.
    if (link.pingsInFlight.size >= 8) link.pingsInFlight.delete(link.pingsInFlight.keys().next().value!);
    link.pingsInFlight.set(id, this.opts.now());
    socket.write(encodeFrame({ k: 'ping', id }));
  }

  private recordPong(link: OutboundLink, id: number): void {
    const sentAt = link.pingsInFlight.get(id);
    if (sentAt === undefined) return;
    link.pingsInFlight.delete(id);
    const ms = Math.max(0, this.opts.now() - sentAt);
    const r = link.rtt;
    r.samples++;
    r.last = ms;
    r.min = Math.min(r.min, ms);
    r.max = Math.max(r.max, ms);
    r.sum += ms;
    r.sumSquares += ms * ms;
  }

  private failConnection(link: OutboundLink, socket: Socket, reason: string): void {
    if (link.socket !== socket) return; // an old connection's late event
    const wasOpen = link.state === 'open';
    link.lastError = reason;
    link.connectionFailures++;
    if (wasOpen || link.attempt === 0) this.opts.log(`transport ${this.opts.memberId}: connection to ${link.id} (${link.address.host}:${link.address.port}) failed: ${reason}`);
    this.dropConnection(link, reason, true);
  }

  private dropConnection(link: OutboundLink, _reason: string, retry: boolean): void {
    this.stopTimers(link);
    const socket = link.socket;
    link.socket = null;
    socket?.destroy();
    link.pingsInFlight.clear();
    if (this.closed || link.state === 'closed') return;
    link.state = 'idle';
    if (!retry) return;
    link.state = 'backoff';
    const delay = backoffDelay(link.attempt++, this.opts.backoff.initialMs, this.opts.backoff.maxMs, this.opts.random);
    link.timer = setTimeout(() => {
      link.timer = null;
      this.connect(link);
    }, delay);
  }

  private stopTimers(link: OutboundLink): void {
    if (link.timer) clearTimeout(link.timer);
    if (link.pingTimer) clearInterval(link.pingTimer);
    link.timer = null;
    link.pingTimer = null;
  }

  // ---- inbound ----

  private accept(socket: Socket): void {
    const where = `${socket.remoteAddress}:${socket.remotePort}`;
    if (this.closed || this.inbound.size >= this.opts.maxInboundConnections) {
      this.opts.log(`transport ${this.opts.memberId}: refusing connection from ${where}: too many connections`);
      socket.destroy();
      return;
    }
    this.inbound.set(socket, null);
    socket.setNoDelay(true);
    const decoder = new FrameDecoder(this.opts.maxFrameBytes);
    let peer: OutboundLink | null = null;
    let done = false;
    const reject = (reason: string, tellPeer: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(handshakeTimer);
      this.opts.log(`transport ${this.opts.memberId}: closing connection from ${peer ? peer.id : where}: ${reason}`);
      if (tellPeer && !socket.destroyed) socket.end(encodeFrame({ k: 'refuse', reason }));
      else socket.destroy();
      // end() waits for the peer; a peer that never reads must not keep the socket alive.
      setTimeout(() => socket.destroy(), 1000).unref();
    };
    const handshakeTimer = setTimeout(() => reject(`no handshake within ${this.opts.handshakeTimeoutMs} ms`, false), this.opts.handshakeTimeoutMs);
    socket.on('data', (chunk: Buffer) => {
      if (done) return;
      let envelopes: Envelope[];
      try {
        envelopes = decoder.push(chunk);
      } catch (err) {
        reject((err as Error).message, false);
        return;
      }
      for (const envelope of envelopes) {
        if (done) return;
        if (!peer) {
          if (envelope.k !== 'hello') return reject(`expected a handshake, got '${envelope.k}'`, false);
          const refusal = this.checkHello(envelope);
          if (refusal) return reject(refusal, true);
          peer = this.links.get(envelope.from)!;
          this.inbound.set(socket, peer.id);
          clearTimeout(handshakeTimer);
          socket.write(encodeFrame({ k: 'welcome' }));
        } else if (envelope.k === 'msg') {
          peer.received++;
          peer.receivedBytes += envelope.body.length;
          try {
            this.onMessage(peer.id, envelope.body);
          } catch (err) {
            this.opts.log(`transport ${this.opts.memberId}: message handler failed on a message from ${peer.id}: ${(err as Error).message}`);
          }
        } else if (envelope.k === 'ping') {
          if (!socket.writableNeedDrain) socket.write(encodeFrame({ k: 'pong', id: envelope.id }));
        } else {
          return reject(`unexpected '${envelope.k}' frame on an inbound connection`, false);
        }
      }
    });
    socket.on('error', () => undefined); // 'close' follows; the reason is not actionable on the accepting side
    socket.on('close', () => {
      done = true;
      clearTimeout(handshakeTimer);
      this.inbound.delete(socket);
    });
  }

  private checkHello(hello: Extract<Envelope, { k: 'hello' }>): string | null {
    if (hello.v !== PROTOCOL_VERSION) return `protocol version ${hello.v} is not supported (this member speaks ${PROTOCOL_VERSION})`;
    if (hello.cluster !== this.opts.clusterId) return `cluster id mismatch: this member is in cluster '${this.opts.clusterId}', the peer in '${hello.cluster}'`;
    if (hello.to !== this.opts.memberId) return `member id mismatch: this is '${this.opts.memberId}', the peer dialed '${hello.to}'`;
    if (!this.links.has(hello.from)) return `member '${hello.from}' is not a peer of '${this.opts.memberId}'`;
    return null;
  }
}

function validateOptions(options: PeerTransportOptions): void {
  const problems: string[] = [];
  if (!options.clusterId) problems.push('clusterId is empty');
  if (!options.memberId) problems.push('memberId is empty');
  const positive = (name: string, value: number | undefined, min = 1): void => {
    if (value !== undefined && (!Number.isFinite(value) || value < min)) problems.push(`${name} must be >= ${min}, got ${value}`);
  };
  positive('maxFrameBytes', options.maxFrameBytes, 64);
  positive('queueMessages', options.queueMessages);
  positive('queueBytes', options.queueBytes, 64);
  positive('handshakeTimeoutMs', options.handshakeTimeoutMs);
  positive('maxInboundConnections', options.maxInboundConnections);
  positive('pingIntervalMs', options.pingIntervalMs, 0);
  if (options.backoff && !(options.backoff.initialMs > 0 && options.backoff.maxMs >= options.backoff.initialMs)) {
    problems.push(`backoff needs 0 < initialMs <= maxMs, got ${options.backoff.initialMs}..${options.backoff.maxMs}`);
  }
  if (options.port !== undefined && (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535)) problems.push(`port must be 0..65535, got ${options.port}`);
  if (problems.length) throw new Error(`transport: bad options: ${problems.join('; ')}`);
}
