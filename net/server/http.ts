// The client HTTP face of a member: etcd v2's routes on node:http. The keys API is parsed and rendered by
// core/api (byte for byte etcd's), requests are answered by the replica, and this file only moves bytes:
// bounded bodies, header and body timeouts, watch long polls and streams, and a cancel when a client leaves.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { errorJson, eventJson, parseKeysRequest, renderKeysResponse, renderStoreStats, type HttpResponse } from '../../core/api/index.ts';
import { decodeUtf8Lossless, unescape } from '../../core/api/form.ts';
import { ErrorCode, etcdError } from '../../core/kv/errors.ts';
import { keysReplyOf, type MemberInfo, type ReplicaInput, type ReplicaReply } from '../../core/replica/index.ts';
import { memberIdOf } from './config.ts';
import { memberCreateRequest } from './members.ts';
import { leaderStatsJson, memberJson, membersJson, messageJson, selfStatsJson, versionJson } from './render.ts';

export type ReplyHandler = (reply: ReplicaReply) => void;

export interface HttpLimits {
  /** Larger request bodies are refused with etcd's 210 Invalid POST form (Go: "http: POST too large"). etcd's
   * v2 API is bounded by Go's form limit, GO_MAX_FORM_BYTES, not by --max-request-bytes (a v3 setting). */
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

/** Go's limit on a urlencoded form body (net/http maxFormSize): etcd v2 accepts values up to this size. */
export const GO_MAX_FORM_BYTES = 10 << 20;

/** etcd's CORS layer wraps every handler and answers with these even when the request has no Origin. */
const CORS_HEADERS: Record<string, string> = {
  'Access-Control-Allow-Headers': 'accept, content-type, authorization',
  'Access-Control-Allow-Methods': 'POST, GET, OPTIONS, PUT, DELETE',
  'Access-Control-Allow-Origin': '*',
};
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

interface SendOptions {
  /** 'json' (default): name the cluster on a JSON reply only, as the keys API does (Go's mux answers, redirects,
   * 404, 405, do not); 'all': on every reply, as the members API does. */
  clusterIdOn?: 'json' | 'all';
  /** Headers beyond the response's own. */
  extra?: Record<string, string>;
  /** false for what Go's server answers before any handler (an unparsable request), which the CORS layer never sees. */
  cors?: boolean;
}

/** `clusterId` null: /version, /health, /v2/machines and /v2/stats/* never name the cluster. */
function send(res: ServerResponse, response: HttpResponse, clusterId: string | null, options: SendOptions = {}): void {
  if (res.headersSent || res.destroyed) return;
  const { clusterIdOn = 'json', extra = {}, cors = true } = options;
  const headers: Record<string, string> = cors ? { ...CORS_HEADERS } : {};
  for (const k in response.headers) headers[canonicalHeader(k)] = response.headers[k]!;
  for (const k in extra) headers[canonicalHeader(k)] = extra[k]!;
  if (clusterId !== null && (clusterIdOn === 'all' || headers['Content-Type'] === 'application/json')) headers['X-Etcd-Cluster-Id'] = clusterId;
  headers['Content-Length'] = String(Buffer.byteLength(response.body, 'utf8'));
  res.writeHead(response.status, headers);
  // A string body goes out in one write with the headers (node joins them); a Buffer would take a writev.
  res.end(response.body, 'utf8');
}

function sendJson(res: ServerResponse, status: number, body: string, clusterId: string | null): void {
  send(res, { status, headers: { 'content-type': 'application/json' }, body }, clusterId);
}

/** Go's http.Error: plain text, nosniff. */
function goError(status: number, text: string, extra: Record<string, string> = {}): HttpResponse {
  return { status, headers: { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff', ...extra }, body: text + '\n' };
}

/** etcd's allowMethod: 405 naming the allowed methods (an empty list leaves Allow out, as etcd's getID does). */
function methodNotAllowed(allowed: string[]): HttpResponse {
  return goError(405, 'Method Not Allowed', allowed.length === 0 ? {} : { allow: allowed.join(',') });
}

type Body = { ok: true; bytes: Buffer } | { ok: false; reason: 'too-large'; drained: boolean } | { ok: false; reason: 'aborted' };

/** Go's server reads on past an unread body by this much to keep the connection (net/http maxPostHandlerReadBytes). */
const DRAIN_BYTES = 256 << 10;

/**
 * Reads a request body up to `limit` bytes. Past the limit, as Go's form parsing does, the body is refused but
 * read on (discarded) for up to DRAIN_BYTES more, so a client still sending gets the reply instead of a reset;
 * `drained` says whether the request ended within that, i.e. whether the connection can be kept.
 */
const NO_BODY: Body = { ok: true, bytes: Buffer.alloc(0) };

function readBody(req: IncomingMessage, limit: number): Promise<Body> | Body {
  // Without Content-Length or Transfer-Encoding a request has no body (RFC 9112 6.3): most GETs, answered
  // without waiting a turn for the stream's end.
  if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined) return NO_BODY;
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
      if (size > limit + DRAIN_BYTES) settle({ ok: false, reason: 'too-large', drained: false });
      else if (size <= limit) chunks.push(chunk);
    });
    req.on('end', () => settle(size > limit ? { ok: false, reason: 'too-large', drained: true } : { ok: true, bytes: Buffer.concat(chunks) }));
    req.on('error', () => settle({ ok: false, reason: 'aborted' }));
    req.on('close', () => settle({ ok: false, reason: 'aborted' }));
  });
}

function refuseLargeBody(res: ServerResponse, clusterId: string, drained: boolean): void {
  const error = etcdError(ErrorCode.InvalidForm, 'http: POST too large', 0);
  const response: HttpResponse = { status: 400, headers: { 'content-type': 'application/json', 'x-etcd-index': '0' }, body: errorJson(error) + '\n' };
  if (drained) return send(res, response, clusterId);
  // The rest of the body is never read: the connection closes after this reply.
  send(res, response, clusterId, { extra: { connection: 'close' } });
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
    if (body.reason === 'too-large') refuseLargeBody(res, member.clusterId, body.drained);
    return;
  }
  // etcd's CORS layer answers every preflight itself, whatever the path, once Go's server has parsed the request.
  if (method === 'OPTIONS' && unescape(path, false).ok) return send(res, { status: 200, headers: {}, body: '' }, null);
  // etcd's /version, /health and stats handlers allow GET only (HEAD too is 405); /v2/machines allows HEAD.
  const getOnly = ['/version', '/health', '/v2/stats/self', '/v2/stats/leader', '/v2/stats/store'];
  if (getOnly.includes(path) && method !== 'GET') return send(res, methodNotAllowed(['GET']), null);
  switch (path) {
    case '/version':
      return sendJson(res, 200, versionJson(), null);
    case '/health': {
      // etcd sets no content type here, so Go sniffs the JSON as text.
      const healthy = member.leader() !== null;
      return send(res, { status: healthy ? 200 : 503, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: JSON.stringify({ health: healthy ? 'true' : 'false' }) }, null);
    }
    case '/v2/machines': {
      if (method !== 'GET' && method !== 'HEAD') return send(res, methodNotAllowed(['GET', 'HEAD']), null);
      const urls = memberList(member).flatMap((m) => m.clientURLs);
      return send(res, { status: 200, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: urls.join(', ') }, null);
    }
    case '/v2/stats/self':
      return sendJson(res, 200, selfStatsJson(member.selfStats()), null);
    case '/v2/stats/leader':
      if (member.role() !== 'leader') return sendJson(res, 403, messageJson('not current leader'), null);
      return sendJson(res, 200, leaderStatsJson(member.id, member.followerStats()), null);
    case '/v2/stats/store': {
      const reply = askNow(member, (id) => ({ type: 'stats', id, kind: 'store' }));
      if (reply?.body.type !== 'stats') return sendJson(res, 500, messageJson('Internal Server Error'), null);
      return send(res, renderStoreStats(reply.body.store), null);
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
    // A path Go cannot decode is refused by its server before etcd's handlers (and their CORS layer) see it.
    const refusedByServer = rendered.status === 400 && rendered.headers.connection === 'close';
    if (refusedByServer) res.on('finish', () => res.socket?.destroySoon());
    return send(res, rendered, member.clusterId, { cors: !refusedByServer });
  }
  const request = parsed.request;
  let streaming = false;
  let done = false;
  // etcd sends a watch's headers as soon as the watcher is registered, so a client knows later writes are
  // ordered after its watch; each event then goes out as one JSON line, flushed at once.
  const startStream = (startIndex: number): void => {
    streaming = true;
    const { raftIndex, raftTerm } = member.raftHeaders();
    const rendered = renderKeysResponse({ type: 'watch', startIndex, events: [] }, { method, clusterId: member.clusterId, raftIndex, raftTerm });
    const headers: Record<string, string> = { ...CORS_HEADERS };
    for (const [k, v] of Object.entries(rendered.headers)) headers[canonicalHeader(k)] = v;
    res.writeHead(200, headers);
    res.flushHeaders();
  };
  const onReply = (reply: ReplicaReply) => {
    if (done) return;
    if (!streaming && request.stream && reply.body.type === 'watch') {
      // A stream watch answered from the event history: etcd hands the client that one event and keeps the
      // stream open without registering a watcher, so nothing more ever arrives on it. The same here: the
      // replica is done with the request, the connection stays open until the client closes it.
      done = true;
      startStream(reply.body.startIndex);
      res.write(eventJson(reply.body.event) + '\n');
      return;
    }
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
  if (startIndex !== null) startStream(startIndex);
  if (!done) {
    res.on('close', () => {
      if (!done) {
        done = true;
        member.cancel(id);
      }
    });
  }
}

/** etcd's members handler: every reply names the cluster; methods other than these four are refused. */
function handleMembers(req: IncomingMessage, res: ServerResponse, member: MemberFacade, method: string, path: string, body: Buffer): void {
  const cid = member.clusterId;
  const reply = (response: HttpResponse) => send(res, response, cid, { clusterIdOn: 'all' });
  const json = (status: number, text: string) => reply({ status, headers: { 'content-type': 'application/json' }, body: text });
  const rest = path.replace(/^\/v2\/members\/?/, '');
  switch (method) {
    case 'GET':
      if (rest === '') return json(200, membersJson(memberList(member)));
      if (rest === 'leader') {
        const leader = memberList(member).find((m) => m.id === member.leader());
        if (leader === undefined) return json(503, messageJson('During election'));
        return json(200, memberJson(leader) + '\n');
      }
      return json(404, messageJson('Not found'));
    case 'POST': {
      // etcd adds a member whatever follows /v2/members.
      const peerURLs = memberCreateRequest(req.headers['content-type'], body);
      if (!peerURLs.ok) return json(peerURLs.status, messageJson(peerURLs.message));
      const newMember: MemberInfo = { id: memberIdOf(peerURLs.urls, member.config.initialClusterToken), name: '', peerURLs: peerURLs.urls, clientURLs: [] };
      return awaitMemberChange(res, member, (id) => ({ type: 'member-add', id, member: newMember }), (members) => {
        const added = members.find((m) => m.id === newMember.id) ?? newMember;
        json(201, memberJson(added) + '\n');
      });
    }
    case 'DELETE': {
      if (rest === '') return reply(methodNotAllowed([]));
      const id = memberIdText(rest);
      if (id === null) return json(404, messageJson(`No such member: ${rest}`));
      return awaitMemberChange(
        res,
        member,
        (rid) => ({ type: 'member-remove', id: rid, memberId: id }),
        () => {
          res.writeHead(204, { ...CORS_HEADERS, 'X-Etcd-Cluster-Id': cid });
          res.end();
        },
        (status, message) => json(status, messageJson(status === 404 ? `No such member: ${id}` : message)),
      );
    }
    case 'PUT':
      // Member update (new peer URLs) is not supported: docs/COMPATIBILITY.md says why.
      if (rest === '') return reply(methodNotAllowed([]));
      return json(501, messageJson('member update is not supported by raftsim: remove the member and add it again with its new peer URLs'));
    default:
      // etcd's allowMethod runs before the handler names the cluster.
      return send(res, methodNotAllowed(['GET', 'POST', 'DELETE', 'PUT']), null);
  }
}

function awaitMemberChange(
  res: ServerResponse,
  member: MemberFacade,
  makeInput: (id: number) => ReplicaInput,
  onDone: (members: MemberInfo[]) => void,
  onRefused: (status: number, message: string) => void = (status, message) => sendJson(res, status, messageJson(message), member.clusterId),
): void {
  let done = false;
  const id = member.submit(makeInput, (reply) => {
    done = true;
    const b = reply.body;
    if (b.type === 'members') onDone(member.decorate(b.members));
    else if (b.type === 'member-error') onRefused(b.status, b.message);
    else if (b.type === 'error') sendJson(res, 500, messageJson(b.error.cause === '' ? b.error.message : b.error.cause), member.clusterId);
    else sendJson(res, 500, messageJson('Internal Server Error'), member.clusterId);
  });
  res.on('close', () => {
    if (!done) member.cancel(id);
  });
}

/** A member id as etcd's types.IDFromString reads it (hex, at most 16 digits), printed without leading zeros. */
function memberIdText(text: string): string | null {
  if (!/^[0-9a-fA-F]{1,16}$/.test(text)) return null;
  return BigInt('0x' + text).toString(16);
}

