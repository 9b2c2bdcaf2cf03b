// The client HTTP face of a member: etcd v2's routes on node:http. The keys API is parsed and rendered by
// core/api (byte for byte etcd's), requests are answered by the replica, and this file only moves bytes:
// bounded bodies, header and body timeouts, watch long polls and streams, and a cancel when a client leaves.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { errorJson, eventJson, parseKeysRequest, renderKeysResponse, renderStoreStats, type HttpResponse } from '../../core/api/index.ts';
import { decodeUtf8Lossless } from '../../core/api/form.ts';
import { ErrorCode, etcdError } from '../../core/kv/errors.ts';
import { keysReplyOf, type MemberInfo, type ReplicaInput, type ReplicaReply } from '../../core/replica/index.ts';
import { memberIdOf } from './config.ts';
import { leaderStatsJson, memberJson, membersJson, messageJson, selfStatsJson, versionJson } from './render.ts';

export type ReplyHandler = (reply: ReplicaReply) => void;

export interface HttpLimits {
  /** Larger request bodies are refused with etcd's 209 Invalid POST form (Go: "http: POST too large"). */
  maxBodyBytes: number;
  /** A client must finish sending its headers within this (slowloris). */
  headersTimeoutMs: number;
  /** ... and its whole request, body included, within this. Long polls are not affected: they are replies. */
  requestTimeoutMs: number;
}

/** What the HTTP layer needs of a member (EtcdMember implements it). */
export interface MemberFacade {
  readonly id: string;
  readonly clusterId: string;
  readonly config: { initialClusterToken: string };
  submit(makeInput: (id: number) => ReplicaInput, onReply: ReplyHandler): number;
  cancel(id: number): void;
  watchStartIndex(id: number): number | null;
  raftHeaders(): { raftIndex: number; raftTerm: number };
  leader(): string | null;
  role(): string;
  decorate(members: MemberInfo[]): MemberInfo[];
  selfStats(): Parameters<typeof selfStatsJson>[0];
  followerStats(): Parameters<typeof leaderStatsJson>[1];
}

const canonicalNames = new Map<string, string>();

/** Go's canonical header spelling (X-Etcd-Index), which some clients compare case-sensitively. */
function canonicalHeader(name: string): string {
  let canonical = canonicalNames.get(name);
  if (canonical === undefined) {
    canonical = name
      .split('-')
      .map((part) => part.charAt(0).toUpperCase() + part.slice(1).toLowerCase())
      .join('-');
    // Names come from our own renderers, a handful in all; the bound only guards against a future caller.
    if (canonicalNames.size < 256) canonicalNames.set(name, canonical);
  }
  return canonical;
}

function send(res: ServerResponse, response: HttpResponse, clusterId: string, extra: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string> = {};
  for (const k in response.headers) headers[canonicalHeader(k)] = response.headers[k]!;
  for (const k in extra) headers[canonicalHeader(k)] = extra[k]!;
  // etcd's own handlers name the cluster; Go's mux answers (redirects, 404, 405) do not.
  if (headers['Content-Type'] === 'application/json') headers['X-Etcd-Cluster-Id'] = clusterId;
  headers['Content-Length'] = String(Buffer.byteLength(response.body, 'utf8'));
  res.writeHead(response.status, headers);
  // A string body goes out in one write with the headers (node joins them); a Buffer would take a writev.
  res.end(response.body, 'utf8');
}

function sendJson(res: ServerResponse, status: number, body: string, clusterId: string, extra: Record<string, string> = {}): void {
  send(res, { status, headers: { 'content-type': 'application/json' }, body }, clusterId, extra);
}

function methodNotAllowed(res: ServerResponse, allowed: string[], clusterId: string): void {
  send(res, { status: 405, headers: { 'content-type': 'text/plain; charset=utf-8', allow: allowed.join(',') }, body: 'Method Not Allowed\n' }, clusterId);
}

type Body = { ok: true; bytes: Buffer } | { ok: false; reason: 'too-large' | 'aborted' };

const NO_BODY: Body = { ok: true, bytes: Buffer.alloc(0) };

/** Reads a request body up to `limit` bytes; a larger one is refused without buffering the rest. */
function readBody(req: IncomingMessage, limit: number): Promise<Body> | Body {
  // Without Content-Length or Transfer-Encoding a request has no body (RFC 9112 6.3): most GETs, answered
  // without waiting a turn for the stream's end.
  if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined) return NO_BODY;
  const declared = Number(req.headers['content-length'] ?? '0');
  if (Number.isFinite(declared) && declared > limit) return Promise.resolve({ ok: false, reason: 'too-large' });
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (b: Body) => {
      if (!settled) {
        settled = true;
        resolve(b);
      }
    };
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > limit) {
        settle({ ok: false, reason: 'too-large' });
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => settle({ ok: true, bytes: Buffer.concat(chunks) }));
    req.on('error', () => settle({ ok: false, reason: 'aborted' }));
    req.on('close', () => settle({ ok: false, reason: 'aborted' }));
  });
}

function refuseLargeBody(res: ServerResponse, clusterId: string): void {
  // The rest of the body is never read: the connection closes after this reply.
  const error = etcdError(ErrorCode.InvalidForm, 'http: POST too large', 0);
  send(res, { status: 400, headers: { 'content-type': 'application/json', 'x-etcd-index': '0' }, body: errorJson(error) + '\n' }, clusterId, { connection: 'close' });
  res.on('finish', () => res.socket?.destroySoon());
}

/** Starts one client listener. Resolves with the bound port (useful when asked for port 0). */
export function startClientServer(address: { host: string; port: number }, member: MemberFacade, limits: HttpLimits): Promise<{ server: Server; port: number }> {
  const server = createServer(
    {
      // Go's default header limit, so keys as long as etcd accepts are accepted here.
      maxHeaderSize: 1 << 20,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(limits.headersTimeoutMs / 2))),
    },
    (req, res) => {
      handle(req, res, member, limits).catch((err: unknown) => {
        // A bug here must cost one request, never the member.
        process.stderr.write(`raftsim: internal error serving ${req.method} ${req.url}: ${err instanceof Error ? err.message : String(err)}\n`);
        if (!res.headersSent) sendJson(res, 500, messageJson('Internal Server Error'), member.clusterId);
        else res.destroy();
      });
    },
  );
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n${status}`);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      server.on('error', (err) => process.stderr.write(`raftsim: client listener error: ${err.message}\n`));
      const bound = server.address();
      resolve({ server, port: typeof bound === 'object' && bound !== null ? bound.port : address.port });
    });
  });
}

async function handle(req: IncomingMessage, res: ServerResponse, member: MemberFacade, limits: HttpLimits): Promise<void> {
  const method = req.method ?? 'GET';
  // The raw request target, byte for byte (Node hands it over as latin1).
  const target = decodeUtf8Lossless(Buffer.from(req.url ?? '/', 'latin1'));
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const query = q < 0 ? '' : target.slice(q + 1);
  const reading = readBody(req, limits.maxBodyBytes);
  const body = reading instanceof Promise ? await reading : reading;
  if (!body.ok) {
    if (body.reason === 'too-large') refuseLargeBody(res, member.clusterId);
    return;
  }
  const cid = member.clusterId;
  switch (path) {
    case '/version':
      if (method !== 'GET' && method !== 'HEAD') return methodNotAllowed(res, ['GET', 'HEAD'], cid);
      return sendJson(res, 200, versionJson(), cid);
    case '/health': {
      if (method !== 'GET' && method !== 'HEAD') return methodNotAllowed(res, ['GET', 'HEAD'], cid);
      const healthy = member.leader() !== null;
      return sendJson(res, healthy ? 200 : 503, JSON.stringify({ health: healthy ? 'true' : 'false' }), cid);
    }
    case '/v2/machines': {
      if (method !== 'GET' && method !== 'HEAD') return methodNotAllowed(res, ['GET', 'HEAD'], cid);
      const urls = memberList(member).flatMap((m) => m.clientURLs);
      return send(res, { status: 200, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: urls.join(', ') }, cid);
    }
    case '/v2/stats/self':
      if (method !== 'GET' && method !== 'HEAD') return methodNotAllowed(res, ['GET', 'HEAD'], cid);
      return sendJson(res, 200, selfStatsJson(member.selfStats()), cid);
    case '/v2/stats/leader':
      if (method !== 'GET' && method !== 'HEAD') return methodNotAllowed(res, ['GET', 'HEAD'], cid);
      if (member.role() !== 'leader') return sendJson(res, 403, messageJson('not current leader'), cid);
      return sendJson(res, 200, leaderStatsJson(member.id, member.followerStats()), cid);
    case '/v2/stats/store': {
      if (method !== 'GET' && method !== 'HEAD') return methodNotAllowed(res, ['GET', 'HEAD'], cid);
      const reply = askNow(member, (id) => ({ type: 'stats', id, kind: 'store' }));
      if (reply?.body.type !== 'stats') return sendJson(res, 500, messageJson('Internal Server Error'), cid);
      return send(res, renderStoreStats(reply.body.store), cid);
    }
  }
  if (path === '/v2/members' || path === '/v2/members/' || path.startsWith('/v2/members/')) return handleMembers(req, res, member, method, path, body.bytes);
  return handleKeys(req, res, member, method, path, query, body.bytes);
}

/** Requests the replica answers within the same step (member list, stats). */
function askNow(member: MemberFacade, makeInput: (id: number) => ReplicaInput): ReplicaReply | null {
  let got: ReplicaReply | null = null;
  const id = member.submit(makeInput, (r) => (got = r));
  if (got === null) member.cancel(id);
  return got;
}

function memberList(member: MemberFacade): MemberInfo[] {
  const reply = askNow(member, (id) => ({ type: 'member-list', id }));
  return reply?.body.type === 'members' ? member.decorate(reply.body.members) : [];
}

function handleKeys(req: IncomingMessage, res: ServerResponse, member: MemberFacade, method: string, path: string, query: string, body: Buffer): void {
  const contentType = req.headers['content-type'] ?? null;
  const parsed = parseKeysRequest({ method, path, query, body: decodeUtf8Lossless(body), contentType });
  if (!parsed.ok) {
    const rendered = renderKeysResponse(parsed.reply, { method });
    if (rendered.status === 400 && rendered.headers.connection === 'close') res.on('finish', () => res.socket?.destroySoon());
    return send(res, rendered, member.clusterId);
  }
  const request = parsed.request;
  let streaming = false;
  let done = false;
  const onReply = (reply: ReplicaReply) => {
    if (done) return;
    if (streaming) {
      // A watch whose headers already went out: each event is one JSON line, flushed at once.
      if (reply.body.type === 'watch') res.write(eventJson(reply.body.event) + '\n');
      else if (reply.body.type === 'error') res.write(errorJson(reply.body.error) + '\n');
      if (reply.final) {
        done = true;
        res.end();
      }
      return;
    }
    const keysReply = keysReplyOf(request, reply);
    if (keysReply === null) return;
    done = reply.final;
    send(res, renderKeysResponse(keysReply, { method, clusterId: member.clusterId, raftIndex: reply.raftIndex, raftTerm: reply.raftTerm }), member.clusterId);
  };
  const id = member.submit((rid) => ({ type: 'request', id: rid, request }), onReply);
  const startIndex = done ? null : member.watchStartIndex(id);
  if (startIndex !== null) {
    // etcd sends a watch's headers as soon as the watcher is registered, so a client knows later writes are
    // ordered after its watch.
    streaming = true;
    const { raftIndex, raftTerm } = member.raftHeaders();
    const rendered = renderKeysResponse({ type: 'watch', startIndex, events: [] }, { method, clusterId: member.clusterId, raftIndex, raftTerm });
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(rendered.headers)) headers[canonicalHeader(k)] = v;
    res.writeHead(200, headers);
    res.flushHeaders();
  }
  if (!done) {
    res.on('close', () => {
      if (!done) {
        done = true;
        member.cancel(id);
      }
    });
  }
}

function handleMembers(req: IncomingMessage, res: ServerResponse, member: MemberFacade, method: string, path: string, body: Buffer): void {
  const cid = member.clusterId;
  const rest = path.replace(/^\/v2\/members\/?/, '');
  if (rest === '') {
    if (method === 'GET' || method === 'HEAD') return sendJson(res, 200, membersJson(memberList(member)), cid);
    if (method !== 'POST') return methodNotAllowed(res, ['GET', 'HEAD', 'POST'], cid);
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (contentType !== 'application/json') return sendJson(res, 415, messageJson(`Bad Content-Type ${req.headers['content-type'] ?? ''}, accept application/json`), cid);
    const peerURLs = parsePeerUrls(body);
    if (typeof peerURLs === 'string') return sendJson(res, 400, messageJson(peerURLs), cid);
    const newMember: MemberInfo = { id: memberIdOf(peerURLs, member.config.initialClusterToken), name: '', peerURLs, clientURLs: [] };
    return awaitMemberChange(res, member, (id) => ({ type: 'member-add', id, member: newMember }), (members) => {
      const added = members.find((m) => m.id === newMember.id) ?? newMember;
      sendJson(res, 201, memberJson(added) + '\n', cid);
    });
  }
  if (rest === 'leader') {
    if (method !== 'GET' && method !== 'HEAD') return methodNotAllowed(res, ['GET', 'HEAD'], cid);
    const leader = memberList(member).find((m) => m.id === member.leader());
    if (leader === undefined) return sendJson(res, 503, messageJson('During election'), cid);
    return sendJson(res, 200, memberJson(leader) + '\n', cid);
  }
  if (method !== 'DELETE') return methodNotAllowed(res, ['DELETE'], cid);
  if (!/^[0-9a-f]{1,16}$/.test(rest)) return sendJson(res, 404, messageJson(`No such member: ${rest}`), cid);
  return awaitMemberChange(res, member, (id) => ({ type: 'member-remove', id, memberId: rest }), () => {
    res.writeHead(204, { 'X-Etcd-Cluster-Id': cid });
    res.end();
  });
}

function awaitMemberChange(res: ServerResponse, member: MemberFacade, makeInput: (id: number) => ReplicaInput, onDone: (members: MemberInfo[]) => void): void {
  let done = false;
  const id = member.submit(makeInput, (reply) => {
    done = true;
    const b = reply.body;
    if (b.type === 'members') onDone(member.decorate(b.members));
    else if (b.type === 'member-error') sendJson(res, b.status, messageJson(b.message), member.clusterId);
    else if (b.type === 'error') sendJson(res, 500, messageJson(b.error.cause === '' ? b.error.message : b.error.cause), member.clusterId);
    else sendJson(res, 500, messageJson('Internal Server Error'), member.clusterId);
  });
  res.on('close', () => {
    if (!done) member.cancel(id);
  });
}

/** `{"peerURLs": ["http://host:port", ...]}`, or the message of etcd's 400 reply. */
function parsePeerUrls(body: Buffer): string[] | string {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (err) {
    return `invalid JSON body: ${err instanceof Error ? err.message : String(err)}`;
  }
  const urls = (value as { peerURLs?: unknown } | null)?.peerURLs;
  if (!Array.isArray(urls) || urls.length === 0 || !urls.every((u) => typeof u === 'string')) return 'peerURLs must be a non-empty list of URLs';
  for (const u of urls as string[]) {
    let url: URL;
    try {
      url = new URL(u);
    } catch {
      return `invalid peer URL ${JSON.stringify(u)}`;
    }
    if (url.protocol !== 'http:' || url.port === '') return `peer URL ${JSON.stringify(u)} must be http://host:port`;
  }
  return urls as string[];
}

