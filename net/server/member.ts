// One raftsim member as a real process: the pure replica (core/replica) driven by the machine. The driver owns
// the clock (a tick every few ms), the write-ahead log (net/storage), the peer links (net/transport) and the
// client HTTP servers (http.ts); every decision about a request is the replica's. Per Ready, exactly as
// docs/REPLICA.md asks: save the persist (fsync when mustSync), send the ungated messages at once, the gated ones
// once that save and every earlier one is durable, then report `persisted`; deliver replies as they come.
import { open as openFile, readFile, rename } from 'node:fs/promises';
import type { Server } from 'node:http';
import { dirname, join } from 'node:path';
import {
  createReplica,
  decodePeerMessage,
  encodePeerMessage,
  persistedPoint,
  restartReplica,
  stepReplica,
  type MemberInfo,
  type NodeId,
  type PeerMessage,
  type ReplicaInput,
  type ReplicaOptions,
  type ReplicaReady,
  type ReplicaReply,
  type ReplicaState,
} from '../../core/replica/index.ts';
import { goesThroughLog } from '../../core/kv/apply.ts';
import type { KeysRequest } from '../../core/kv/types.ts';
import { persistBatchFromRaft, persistedStateFromWal } from '../storage/raft-storage.ts';
import { DataDirLockedError, WalCorruptionError, WalOpenError, WriteAheadLog } from '../storage/index.ts';
import { PeerTransport } from '../transport/index.ts';
import { clusterIdOf, hostPortOf, memberIdOf, parseInitialCluster, type ClusterPeer, type ServerConfig } from './config.ts';
import { DiscoveryError, discoverCluster, type DiscoveryOptions } from './discovery.ts';
import { GO_MAX_FORM_BYTES, startClientServer, type HttpLimits, type ReplyHandler } from './http.ts';

/** A refusal to start (bad data dir, port in use): one line for the operator. */
export class StartupError extends Error {
  override name = 'StartupError';
}

export interface MemberOptions {
  config: ServerConfig;
  /** One line per event worth an operator's attention (default: stderr). */
  log?: (line: string) => void;
  /** Driver tick period in ms (default 10). */
  tickMs?: number;
  http?: Partial<HttpLimits>;
  /** Called once when the member stops by itself (removed from the cluster, or its disk failed). */
  onFatal?: (reason: string, exitCode: number) => void;
  /** Retry and wait limits of --discovery (tests shorten them). */
  discovery?: Pick<DiscoveryOptions, 'attempts' | 'backoffMs' | 'requestTimeoutMs' | 'waitTimeoutMs'>;
}

/** Server-level messages share the peer link with the replica's: a leading tag byte tells them apart. */
const TAG_REPLICA = 1;
const TAG_ATTRIBUTES = 2;
const ATTRIBUTES_EVERY_MS = 1000;
/** A logged write carries a whole v2 request: a form body of up to Go's 10 MiB and a key of up to the 1 MiB
 * header limit, plus the command's own fields. */
const MAX_ENTRY_BYTES = GO_MAX_FORM_BYTES + (1 << 20) + (64 << 10);
/** One peer frame holds one message: an append with the largest entry, a forwarded write, or a snapshot. */
const MAX_PEER_FRAME_BYTES = 64 << 20;

interface Attributes {
  name: string;
  clientURLs: string[];
}

export class EtcdMember {
  readonly id: NodeId;
  readonly clusterId: string;
  /** The configuration; a member bootstrapped through discovery gets its --initial-cluster from there. */
  config: ServerConfig;
  /** Bound client URLs (a port 0 in --listen-client-urls is replaced by the port the kernel gave). */
  clientUrls: string[] = [];
  readonly startTimeMs = Date.now();

  private state!: ReplicaState;
  private wal!: WriteAheadLog;
  private transport!: PeerTransport;
  private servers: Server[] = [];
  private timers: NodeJS.Timeout[] = [];
  private readonly log: (line: string) => void;
  private readonly onFatal: (reason: string, exitCode: number) => void;
  private readonly handlers = new Map<number, ReplyHandler>();
  private batched: Array<{ id: number; request: KeysRequest }> = [];
  private lastRequestId = 0;
  /** Resolves when every save issued so far is durable; gated messages without their own save wait on it. */
  private lastDurable: Promise<void> = Promise.resolve();
  private stopped = false;
  private stopping: Promise<void> | null = null;
  private peerAddresses = new Map<NodeId, string>();
  private attributes = new Map<NodeId, Attributes>();
  private wasMember = false;
  private leaderSeen: NodeId | null = null;
  private leaderSinceMs = Date.now();
  private recvAppends = 0;
  private sendAppends = 0;

  private constructor(options: MemberOptions) {
    this.config = options.config;
    this.id = memberIdOf(options.config.initialAdvertisePeerUrls, options.config.initialClusterToken);
    this.clusterId = clusterIdOf(options.config.initialClusterToken);
    this.log = options.log ?? ((line) => process.stderr.write(line + '\n'));
    this.onFatal = options.onFatal ?? (() => {});
  }

  /** Opens the data dir, recovers, starts peer links and client HTTP, and begins ticking. */
  static async start(options: MemberOptions): Promise<EtcdMember> {
    const member = new EtcdMember(options);
    try {
      await member.open(options);
    } catch (err) {
      await member.stop();
      throw toStartupError(err);
    }
    return member;
  }

  private idOfPeer(peer: { peerUrls: string[] }): NodeId {
    return memberIdOf(peer.peerUrls, this.config.initialClusterToken);
  }

  private replicaOptions(): ReplicaOptions {
    const c = this.config;
    const members: MemberInfo[] = c.initialCluster.map((p) => ({
      id: this.idOfPeer(p),
      name: p.name,
      peerURLs: p.peerUrls,
      clientURLs: p.name === c.name ? c.advertiseClientUrls : [],
    }));
    return {
      id: this.id,
      raft: {
        electionTimeoutMs: c.electionTimeoutMs,
        heartbeatIntervalMs: c.heartbeatIntervalMs,
        // The election jitter needs a different seed per process; the replica itself stays deterministic.
        seed: (Date.now() ^ process.pid) >>> 0,
        maxEntryBytes: MAX_ENTRY_BYTES,
      },
      snapshotEvery: c.snapshotCount,
      // etcd's request timeout: 5 s plus two election timeouts.
      requestTimeoutMs: 5000 + 2 * c.electionTimeoutMs,
      members,
    };
  }

  private async open(options: MemberOptions): Promise<void> {
    const { wal, recovered } = await WriteAheadLog.open({ dir: this.config.dataDir, log: this.log });
    this.wal = wal;
    const persisted = persistedStateFromWal(recovered, this.config.dataDir);
    // As etcd: discovery bootstraps a new member only; one with data restarts from it and ignores --discovery,
    // taking the peers discovery found from the data dir (the log does not carry the initial peers' URLs).
    if (persisted === null && this.config.discoveryUrl !== null) await this.discover(this.config.discoveryUrl, options);
    else if (persisted !== null) await this.restoreDiscoveredCluster();
    const c = this.config;
    const replicaOptions = this.replicaOptions();
    if (persisted !== null) {
      this.state = restartReplica(replicaOptions, persisted);
    } else if (c.initialClusterState === 'new') {
      this.state = createReplica(replicaOptions, { voters: c.initialCluster.map((p) => this.idOfPeer(p)) });
    } else {
      // Joining a running cluster: everything, the configuration included, comes from its leader.
      this.state = createReplica(replicaOptions, { voters: [] });
    }
    this.wasMember = this.isMember();

    const peerListen = hostPortOf(c.listenPeerUrls[0]!);
    this.transport = await PeerTransport.listen({
      clusterId: this.clusterId,
      memberId: this.id,
      host: peerListen.host,
      port: peerListen.port,
      onMessage: (from, body) => this.onPeerBytes(from, body),
      maxFrameBytes: MAX_PEER_FRAME_BYTES,
      log: this.log,
    });
    this.syncPeers();

    const limits: HttpLimits = { maxBodyBytes: GO_MAX_FORM_BYTES, headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, ...options.http };
    for (const url of c.listenClientUrls) {
      const { server, port } = await startClientServer(hostPortOf(url), this, limits);
      this.servers.push(server);
      const bound = new URL(url);
      bound.port = String(port);
      this.clientUrls.push(bound.origin);
    }

    const tickMs = options.tickMs ?? 10;
    this.timers.push(setInterval(() => this.step({ type: 'tick', now: Date.now() }), tickMs));
    this.timers.push(setInterval(() => this.announceAttributes(), ATTRIBUTES_EVERY_MS));
    this.step({ type: 'tick', now: Date.now() });
    this.announceAttributes();
    this.log(`raftsim: member ${c.name} (${this.id}) of cluster ${this.clusterId} serving clients on ${this.clientUrls.join(',')}, peers on ${c.listenPeerUrls[0]}`);
  }

  private async discover(url: string, options: MemberOptions): Promise<void> {
    const c = this.config;
    const initialCluster = await discoverCluster({ url, memberId: this.id, name: c.name, peerUrls: c.initialAdvertisePeerUrls, log: this.log, ...options.discovery });
    if (!initialCluster.some((p) => p.name === c.name)) throw new DiscoveryError(`discovery: no member named '${c.name}' among those registered at ${url}`);
    this.config = { ...c, initialCluster, initialClusterState: 'new' };
    const text = initialClusterText(initialCluster);
    await writeFileDurably(join(c.dataDir, DISCOVERED_CLUSTER_FILE), text + '\n');
    this.log(`raftsim: discovery: initial cluster ${text}`);
  }

  private async restoreDiscoveredCluster(): Promise<void> {
    const file = join(this.config.dataDir, DISCOVERED_CLUSTER_FILE);
    let text: string;
    try {
      text = (await readFile(file, 'utf8')).trim();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // bootstrapped with --initial-cluster
      throw err;
    }
    try {
      this.config = { ...this.config, initialCluster: parseInitialCluster(text) };
    } catch (err) {
      throw new StartupError(`${file} is damaged (${err instanceof Error ? err.message : String(err)}); restore this member from a peer`);
    }
  }

  // ------------------------------------------------------------------------------------------------ driver

  /** Steps the replica and carries out its Ready. Never throws: a replica invariant failure stops the member. */
  step(input: ReplicaInput): ReplicaReady | null {
    if (this.stopped) return null;
    let ready: ReplicaReady;
    try {
      ready = stepReplica(this.state, input);
    } catch (err) {
      this.fail(`replica step failed: ${err instanceof Error ? err.message : String(err)}`, 1);
      return null;
    }
    this.carryOut(ready);
    return ready;
  }

  private carryOut(ready: ReplicaReady): void {
    const gated: PeerMessage[] = [];
    for (const out of ready.messages) {
      if (out.afterPersist) gated.push(out.message);
      else this.sendPeer(out.message);
    }
    if (ready.persist !== null) {
      const persist = ready.persist;
      const point = persistedPoint(persist);
      let durable: Promise<void>;
      try {
        durable = this.wal.save(persistBatchFromRaft(persist), { sync: ready.mustSync });
      } catch (err) {
        durable = Promise.reject(err);
      }
      this.lastDurable = durable;
      durable.then(
        () => {
          for (const m of gated) this.sendPeer(m);
          if (point !== null) this.step({ type: 'persisted', index: point.index, term: point.term });
        },
        (err: unknown) => this.fail(`write-ahead log failed: ${err instanceof Error ? err.message : String(err)}`, 1),
      );
    } else if (gated.length > 0) {
      this.lastDurable.then(() => {
        for (const m of gated) this.sendPeer(m);
      }, () => {});
    }
    for (const { id, reply } of ready.replies) this.deliver(id, reply);
    if (ready.soft.leader !== this.leaderSeen) {
      this.leaderSeen = ready.soft.leader;
      this.leaderSinceMs = Date.now();
    }
    if (ready.installedSnapshot !== null || ready.applied.some((a) => a.kind === 'conf')) this.onMembershipChange();
  }

  private deliver(id: number, reply: ReplicaReply): void {
    const handler = this.handlers.get(id);
    if (handler === undefined) return;
    if (reply.final) this.handlers.delete(id);
    handler(reply);
  }

  // ----------------------------------------------------------------------------------------- client facing

  /** A fresh request id: increasing for this member's whole life, across restarts (wall clock in µs). */
  nextRequestId(): number {
    this.lastRequestId = Math.max(this.lastRequestId + 1, Date.now() * 1000);
    return this.lastRequestId;
  }

  /**
   * Submits a request to the replica; `onReply` gets every reply for it (several for a stream watch). While
   * earlier writes or quorum reads are in progress, new ones wait for the end of this event-loop turn and go to
   * the replica together, as one `requests` batch: one Raft proposal and one ReadIndex round for all that arrived
   * meanwhile (group commit; a lone request is not delayed). Everything else (and any batch before it, so ids
   * reach the replica in order) is stepped at once: callers read its answer right away.
   */
  submit(makeInput: (id: number) => ReplicaInput, onReply: ReplyHandler): number {
    const id = this.nextRequestId();
    this.handlers.set(id, onReply);
    const input = makeInput(id);
    if (input.type === 'request' && goesThroughLog(input.request) && (this.batched.length > 0 || this.logWorkInProgress())) {
      if (this.batched.length === 0) setImmediate(() => this.stepBatch());
      this.batched.push({ id, request: input.request });
      return id;
    }
    this.stepBatch();
    this.step(input);
    return id;
  }

  private logWorkInProgress(): boolean {
    for (const _ in this.state.writes) return true;
    for (const _ in this.state.reads) return true;
    return false;
  }

  private stepBatch(): void {
    const requests = this.batched;
    if (requests.length === 0) return;
    this.batched = [];
    this.step(requests.length === 1 ? { type: 'request', ...requests[0]! } : { type: 'requests', requests });
  }

  /** The client went away before its last reply. */
  cancel(id: number): void {
    if (!this.handlers.delete(id)) return;
    const waiting = this.batched.findIndex((r) => r.id === id);
    if (waiting >= 0) this.batched.splice(waiting, 1);
    else this.step({ type: 'cancel', id });
  }

  /** The open watch registered for request `id`, if the replica registered one. */
  watchStartIndex(id: number): number | null {
    return this.state.watches[String(id)]?.startIndex ?? null;
  }

  raftHeaders(): { raftIndex: number; raftTerm: number } {
    return { raftIndex: this.state.raft.commit, raftTerm: this.state.raft.term };
  }

  leader(): NodeId | null {
    return this.state.raft.leader;
  }

  role(): string {
    return this.state.raft.role;
  }

  /** The replica's member list, with each member's name and client URLs as the member itself announced them. */
  decorate(members: MemberInfo[]): MemberInfo[] {
    return members.map((m) => {
      const announced = m.id === this.id ? { name: this.config.name, clientURLs: this.config.advertiseClientUrls } : this.attributes.get(m.id);
      return announced === undefined ? m : { ...m, name: announced.name, clientURLs: announced.clientURLs };
    });
  }

  selfStats(): { name: string; id: string; role: string; startTimeMs: number; leader: string | null; leaderSinceMs: number; nowMs: number; recvAppendRequestCnt: number; sendAppendRequestCnt: number } {
    return {
      name: this.config.name,
      id: this.id,
      role: this.state.raft.role,
      startTimeMs: this.startTimeMs,
      leader: this.state.raft.leader,
      leaderSinceMs: this.leaderSinceMs,
      nowMs: Date.now(),
      recvAppendRequestCnt: this.recvAppends,
      sendAppendRequestCnt: this.sendAppends,
    };
  }

  followerStats(): Record<string, ReturnType<PeerTransport['stats']>[string] | undefined> {
    const stats = this.transport.stats();
    const out: Record<string, ReturnType<PeerTransport['stats']>[string] | undefined> = {};
    for (const id of this.peerIds()) out[id] = stats[id];
    return out;
  }

  peerIds(): NodeId[] {
    const m = this.state.raft.membership;
    return [...m.voters, ...m.learners].filter((id) => id !== this.id);
  }

  // --------------------------------------------------------------------------------------------- peers

  private sendPeer(message: PeerMessage): void {
    if (message.type === 'raft' && message.message.type === 'append') this.sendAppends++;
    let body: Uint8Array;
    try {
      body = encodePeerMessage(message);
    } catch (err) {
      this.log(`raftsim: cannot encode a message to ${message.to}: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    this.transport.send(message.to, tagged(TAG_REPLICA, body));
  }

  private onPeerBytes(from: string, body: Uint8Array): void {
    if (this.stopped || body.length === 0) return;
    const payload = body.subarray(1);
    if (body[0] === TAG_ATTRIBUTES) {
      const attrs = parseAttributes(payload);
      if (attrs !== null) this.attributes.set(from, attrs);
      return;
    }
    if (body[0] !== TAG_REPLICA) {
      this.log(`raftsim: dropped a peer frame from ${from} with unknown tag ${body[0]}`);
      return;
    }
    let message: PeerMessage;
    try {
      message = decodePeerMessage(payload);
    } catch (err) {
      this.log(`raftsim: dropped a peer frame from ${from}: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    // The transport authenticated the sender; a message claiming otherwise is dropped, not stepped.
    if (message.to !== this.id || message.from !== from) {
      this.log(`raftsim: dropped a peer message from ${from} claiming ${message.from}->${message.to}`);
      return;
    }
    if (message.type === 'raft' && message.message.type === 'append') this.recvAppends++;
    this.step({ type: 'message', message });
  }

  private announceAttributes(): void {
    if (this.stopped) return;
    const body = new TextEncoder().encode(JSON.stringify({ name: this.config.name, clientURLs: this.config.advertiseClientUrls }));
    for (const id of this.peerIds()) this.transport.send(id, tagged(TAG_ATTRIBUTES, body));
  }

  private isMember(): boolean {
    const m = this.state.raft.membership;
    return m.voters.includes(this.id) || m.learners.includes(this.id);
  }

  private peerUrlOf(id: NodeId): string | null {
    const known = this.state.replicated.members[id]?.peerURLs[0];
    if (known !== undefined) return known;
    const initial = this.config.initialCluster.find((p) => this.idOfPeer(p) === id);
    return initial?.peerUrls[0] ?? null;
  }

  /** Dial every member of the current configuration, forget removed ones. */
  private syncPeers(): void {
    const wanted = new Set(this.peerIds());
    // Before it hears from the leader, a joining member knows its peers only from --initial-cluster.
    if (wanted.size === 0) for (const p of this.config.initialCluster) if (this.idOfPeer(p) !== this.id) wanted.add(this.idOfPeer(p));
    for (const id of wanted) {
      const url = this.peerUrlOf(id);
      if (url === null || this.peerAddresses.get(id) === url) continue;
      this.peerAddresses.set(id, url);
      this.transport.addPeer(id, hostPortOf(url));
    }
    for (const id of [...this.peerAddresses.keys()]) {
      if (!wanted.has(id)) {
        this.peerAddresses.delete(id);
        this.attributes.delete(id);
        this.transport.removePeer(id);
      }
    }
  }

  private onMembershipChange(): void {
    this.syncPeers();
    const member = this.isMember();
    if (this.wasMember && !member) {
      this.fail('this member was removed from the cluster; shutting down', 0);
      return;
    }
    this.wasMember = this.wasMember || member;
  }

  // ------------------------------------------------------------------------------------------ lifecycle

  private fail(reason: string, exitCode: number): void {
    if (this.stopped) return;
    this.log(`raftsim: member ${this.config.name}: ${reason}`);
    void this.stop().then(() => this.onFatal(reason, exitCode));
  }

  /** Stops ticking, closes client connections (open watches end), peer links and the log. Idempotent. */
  stop(): Promise<void> {
    if (this.stopping !== null) return this.stopping;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.stopping = (async () => {
      this.handlers.clear();
      await Promise.all(
        this.servers.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.close(() => resolve());
              s.closeAllConnections();
            }),
        ),
      );
      if (this.transport !== undefined) await this.transport.close();
      if (this.wal !== undefined) {
        await this.lastDurable.catch(() => {});
        await this.wal.close().catch(() => {});
      }
    })();
    return this.stopping;
  }
}

/** Where a member bootstrapped through discovery keeps the cluster it found, as --initial-cluster text. */
const DISCOVERED_CLUSTER_FILE = 'discovered-cluster';

function initialClusterText(peers: ClusterPeer[]): string {
  return peers.flatMap((p) => p.peerUrls.map((u) => `${p.name}=${u}`)).join(',');
}

/** Written whole or not at all: temp file, fsync, rename, fsync of the directory. */
async function writeFileDurably(path: string, text: string): Promise<void> {
  const temp = `${path}.tmp`;
  const handle = await openFile(temp, 'w');
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, path);
  const dir = await openFile(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

function tagged(tag: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.length + 1);
  out[0] = tag;
  out.set(body, 1);
  return out;
}

function parseAttributes(bytes: Uint8Array): Attributes | null {
  try {
    const v = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
    if (typeof v !== 'object' || v === null) return null;
    const { name, clientURLs } = v as Record<string, unknown>;
    if (typeof name !== 'string' || !Array.isArray(clientURLs) || !clientURLs.every((u) => typeof u === 'string')) return null;
    return { name, clientURLs: clientURLs as string[] };
  } catch {
    return null;
  }
}

function toStartupError(err: unknown): Error {
  if (err instanceof DiscoveryError) return new StartupError(err.message);
  if (err instanceof WalCorruptionError || err instanceof DataDirLockedError || err instanceof WalOpenError) return new StartupError(err.message.split('\n')[0]!);
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'EADDRINUSE') return new StartupError(`cannot listen: address ${String((e as { address?: string }).address ?? '')}:${String((e as { port?: number }).port ?? '')} is already in use`);
  if (e.code === 'EADDRNOTAVAIL' || e.code === 'EACCES') return new StartupError(`cannot listen: ${e.message.split('\n')[0]}`);
  return err instanceof Error ? err : new Error(String(err));
}
