// The simulator's client requests (KeysRequest) over real HTTP to any etcd-v2 endpoint, and the endpoint's
// answer back as the reply a simulated replica would give (ReplicaReply), so the simulator's client pool,
// workloads and checkers run unchanged against a real cluster.
//
// What a reply means for the history (Jepsen's rules, conservative where the wire cannot tell):
// - a v2 event: ok;
// - an etcd store error (1xx, e.g. 100 key not found, 101 compare failed, 105 node exists, and 401 event index
//   cleared): ok: the operation happened and observed something;
// - a request error (2xx codes: bad form fields): failed, nothing was done;
// - 300/301 (etcd's server errors): failed when the cause says the request was refused before it was proposed
//   (raftsim: no leader, leader changed, too many requests, too large); otherwise a write is indeterminate;
// - connection refused: failed (the request never reached a server);
// - anything else (reset, closed mid-reply, a body that is not etcd's, the client giving up): a write is
//   indeterminate, a read failed.
//
// Every path is put under a namespace (`/raftsim-jepsen/<run>`) on the wire and taken off again in replies, so
// runs against a long-lived cluster never see each other's keys and histories keep the workload's key names.
import { Agent, request as httpRequest, type IncomingMessage } from 'node:http';
import { KEYS_PREFIX } from '../../core/api/index.ts';
import type { EtcdError, KeysRequest, NodeView, StoreAction, StoreEvent } from '../../core/kv/index.ts';
import type { ReplicaReply, ReplyOutcome } from '../../core/replica/index.ts';

/** A request that never reached a server (surely not applied), or the server's answer as a replica reply. */
export type Exchange = { kind: 'refused'; reason: string } | { kind: 'reply'; reply: ReplicaReply; reason?: string };

/** Causes of 300 errors that raftsim gives only when it refused a request before proposing it. */
const REFUSED_BEFORE_PROPOSING = new Set([
  'etcdserver: no leader',
  'etcdserver: leader changed',
  'etcdserver: too many requests',
  'etcdserver: request is too large',
]);

const ACTIONS = new Set<StoreAction>(['get', 'create', 'set', 'update', 'delete', 'compareAndSwap', 'compareAndDelete', 'expire']);
/** A reply body is bounded: a listing of a few thousand queue keys fits many times over. */
const MAX_BODY_BYTES = 16 * 1024 * 1024;

export interface V2HttpClientOptions {
  /** Prefix of every key on the wire, e.g. `/raftsim-jepsen/20260101-120000`; "" for none. */
  namespace?: string;
}

/** Splits `http://host:port,...` into base URLs; throws a one-line RangeError on anything else. */
export function parseEndpointList(text: string): string[] {
  const parts = text.split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (parts.length === 0) throw new RangeError('no endpoints given (expected e.g. http://127.0.0.1:2379)');
  return parts.map((part) => {
    let url: URL;
    try {
      url = new URL(part);
    } catch {
      throw new RangeError(`endpoint '${part}' is not a URL (expected e.g. http://127.0.0.1:2379)`);
    }
    if (url.protocol !== 'http:') throw new RangeError(`endpoint '${part}' must use http://`);
    if (url.pathname !== '/' || url.search !== '' || url.hash !== '') throw new RangeError(`endpoint '${part}' must be a base URL without a path`);
    return `${url.protocol}//${url.host}`;
  });
}

function isWrite(request: KeysRequest): boolean {
  return request.method !== 'GET' && request.method !== 'HEAD';
}

/** The KeysRequest as the query string or form etcd's v2 API reads. */
export function encodeRequest(request: KeysRequest, namespace = ''): { method: string; path: string; body: string | undefined } {
  const params = new URLSearchParams();
  const flag = (name: string, on: boolean) => on && params.set(name, 'true');
  if (request.method === 'GET' || request.method === 'HEAD') {
    flag('quorum', request.quorum);
    flag('recursive', request.recursive);
    flag('sorted', request.sorted);
    flag('wait', request.wait);
    flag('stream', request.stream);
    if (request.waitIndex > 0) params.set('waitIndex', String(request.waitIndex));
  } else if (request.method === 'DELETE') {
    flag('recursive', request.recursive);
    flag('dir', request.dir);
    if (request.prevValue !== '') params.set('prevValue', request.prevValue);
    if (request.prevIndex > 0) params.set('prevIndex', String(request.prevIndex));
  } else {
    if (!request.refresh) params.set('value', request.value);
    flag('dir', request.dir);
    flag('refresh', request.refresh);
    if (request.prevValue !== '') params.set('prevValue', request.prevValue);
    if (request.prevIndex > 0) params.set('prevIndex', String(request.prevIndex));
    if (request.prevExist !== null) params.set('prevExist', String(request.prevExist));
    if (request.ttlSeconds !== null) params.set('ttl', String(request.ttlSeconds));
    flag('noValueOnSuccess', request.noValueOnSuccess);
  }
  const segments = (namespace + request.path).split('/').filter((s) => s !== '');
  let path = KEYS_PREFIX + '/' + segments.map(encodeURIComponent).join('/');
  const form = params.toString();
  const inBody = request.method === 'PUT' || request.method === 'POST';
  if (!inBody && form !== '') path += '?' + form;
  return { method: request.method, path, body: inBody ? form : undefined };
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isSafeInteger(v) ? v : 0;
}

function stripNamespace(key: string, namespace: string): string {
  if (namespace === '') return key;
  if (key === namespace) return '/';
  return key.startsWith(namespace + '/') ? key.slice(namespace.length) : key;
}

function nodeOf(raw: unknown, namespace: string): NodeView | null {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return null;
  const n = raw as Record<string, unknown>;
  if (n.key !== undefined && typeof n.key !== 'string') return null;
  if (n.value !== undefined && typeof n.value !== 'string') return null;
  let nodes: NodeView[] | null = null;
  if (n.nodes !== undefined) {
    if (!Array.isArray(n.nodes)) return null;
    nodes = [];
    for (const child of n.nodes) {
      const c = nodeOf(child, namespace);
      if (c === null) return null;
      nodes.push(c);
    }
  }
  const expiration = typeof n.expiration === 'string' ? Date.parse(n.expiration) : NaN;
  return {
    key: stripNamespace(typeof n.key === 'string' ? n.key : '/', namespace),
    value: typeof n.value === 'string' ? n.value : null,
    dir: n.dir === true,
    expiration: Number.isFinite(expiration) ? expiration : null,
    ttl: num(n.ttl),
    nodes,
    modifiedIndex: num(n.modifiedIndex),
    createdIndex: num(n.createdIndex),
  };
}

function header(res: { headers: IncomingMessage['headers'] }, name: string): number {
  const raw = res.headers[name];
  const n = Number(Array.isArray(raw) ? raw[0] : raw);
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
}

function lost(request: KeysRequest, reason: string, etcdIndex = 0): Exchange {
  const outcome: ReplyOutcome = isWrite(request) ? 'unknown' : 'failed';
  const error: EtcdError = { errorCode: 300, message: 'Raft Internal Error', cause: `raftsim jepsen: ${reason}`, index: etcdIndex };
  return { kind: 'reply', reply: { outcome, body: { type: 'error', error }, etcdIndex, raftIndex: 0, raftTerm: 0, final: true }, reason };
}

/** Reads an HTTP reply of the keys API as a replica reply (see the rules at the top of this file). */
export function decodeReply(request: KeysRequest, status: number, headers: IncomingMessage['headers'], body: string, namespace = ''): Exchange {
  const etcdIndex = header({ headers }, 'x-etcd-index');
  const base = { etcdIndex, raftIndex: header({ headers }, 'x-raft-index'), raftTerm: header({ headers }, 'x-raft-term'), final: true };
  let parsed: unknown;
  try {
    // A watch reply may hold several events, one per line; the workloads send one-shot watches only.
    parsed = JSON.parse(body.split('\n').find((l) => l.trim() !== '') ?? '');
  } catch {
    return lost(request, `HTTP ${status} with a body that is not etcd's JSON`, etcdIndex);
  }
  if (typeof parsed !== 'object' || parsed === null) return lost(request, `HTTP ${status} with a body that is not etcd's JSON`, etcdIndex);
  const record = parsed as Record<string, unknown>;
  if (typeof record.errorCode === 'number' && Number.isInteger(record.errorCode)) {
    const code = record.errorCode;
    const error: EtcdError = {
      errorCode: code,
      message: typeof record.message === 'string' ? record.message : '',
      cause: typeof record.cause === 'string' ? record.cause : '',
      index: num(record.index) || etcdIndex,
    };
    let outcome: ReplyOutcome;
    if ((code >= 100 && code < 200) || code === 401) outcome = 'ok';
    else if (code >= 200 && code < 300) outcome = 'failed';
    else if (!isWrite(request) || REFUSED_BEFORE_PROPOSING.has(error.cause)) outcome = 'failed';
    else outcome = 'unknown';
    return { kind: 'reply', reply: { ...base, outcome, body: { type: 'error', error } } };
  }
  if (status >= 200 && status < 300 && typeof record.action === 'string' && ACTIONS.has(record.action as StoreAction)) {
    const node = nodeOf(record.node, namespace);
    const prevNode = record.prevNode === undefined ? null : nodeOf(record.prevNode, namespace);
    if (node !== null && (record.prevNode === undefined || prevNode !== null)) {
      const event: StoreEvent = { action: record.action as StoreAction, node, prevNode, etcdIndex, refresh: false };
      return { kind: 'reply', reply: { ...base, outcome: 'ok', body: { type: 'event', event } } };
    }
  }
  return lost(request, `HTTP ${status} that is neither a v2 event nor an etcd error`, etcdIndex);
}

/** Sends keys requests to v2 endpoints over keep-alive connections. */
export class V2HttpClient {
  readonly namespace: string;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 256 });

  constructor(options: V2HttpClientOptions = {}) {
    this.namespace = (options.namespace ?? '').replace(/\/+$/, '');
  }

  /** One request to one endpoint. Never rejects: every failure is an Exchange (see the rules above). */
  send(endpoint: string, request: KeysRequest, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<Exchange> {
    const { method, path, body } = encodeRequest(request, this.namespace);
    return new Promise((resolve) => {
      let settled = false;
      let sent = false;
      let timer: NodeJS.Timeout | undefined;
      const finish = (x: Exchange) => {
        if (settled) return;
        settled = true;
        if (timer !== undefined) clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        resolve(x);
      };
      const headers: Record<string, string> = {};
      if (body !== undefined) {
        headers['content-type'] = 'application/x-www-form-urlencoded';
        headers['content-length'] = String(Buffer.byteLength(body));
      }
      const url = new URL(path, endpoint);
      const req = httpRequest({ host: url.hostname, port: url.port, method, path, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_BODY_BYTES) {
            req.destroy();
            finish(lost(request, `reply larger than ${MAX_BODY_BYTES} bytes`));
          } else chunks.push(c);
        });
        res.on('end', () => finish(decodeReply(request, res.statusCode ?? 0, res.headers, Buffer.concat(chunks).toString('utf8'), this.namespace)));
        res.on('aborted', () => finish(lost(request, 'connection closed mid-reply')));
        res.on('error', () => finish(lost(request, 'connection closed mid-reply')));
      });
      req.on('socket', (socket) => {
        // A reused keep-alive socket is connected already; a fresh one counts as sent once it connects.
        if (!socket.connecting) sent = true;
        else socket.once('connect', () => (sent = true));
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (!sent && (err.code === 'ECONNREFUSED' || err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND')) finish({ kind: 'refused', reason: err.code });
        else finish(lost(request, err.code ?? err.message));
      });
      const onAbort = () => {
        finish(lost(request, 'the client gave up'));
        req.destroy();
      };
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      if (options.timeoutMs !== undefined) timer = setTimeout(onAbort, options.timeoutMs);
      req.end(body);
    });
  }

  /** Closes the idle keep-alive connections. */
  close(): void {
    this.agent.destroy();
  }
}
