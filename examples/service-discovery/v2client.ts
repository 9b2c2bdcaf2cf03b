// A small client for etcd's v2 keys API, shared by the service-discovery example's programs.
//
// It knows several endpoints and fails over between them: a request that cannot reach a member (refused,
// reset, timed out) or that the member answers with a 5xx is retried on the next endpoint, and the endpoint
// that last answered is tried first next time. Every attempt is bounded in time; a request that no endpoint
// answered becomes one `EndpointsUnavailableError` naming what each endpoint did. etcd's own errors (JSON
// `{errorCode, message, cause, index}` with a 4xx status) become an `EtcdError` and are not retried: they are
// answers, not outages.
//
// Plain node:http, one connection per request (`agent: false`): a pooled keep-alive socket that the server
// closed while idle would turn a routine refresh into a spurious failure.
import { request, type IncomingMessage } from 'node:http';

/** etcd v2 error codes the example reacts to (etcd's numbering). */
export const EtcdErrorCode = {
  KeyNotFound: 100,
  TestFailed: 101,
  NodeExist: 105,
  EventIndexCleared: 401,
} as const;

export interface EtcdNode {
  key: string;
  value?: string;
  dir?: boolean;
  nodes?: EtcdNode[];
  ttl?: number;
  expiration?: string;
  modifiedIndex?: number;
  createdIndex?: number;
}

export interface EtcdResponse {
  action: string;
  node: EtcdNode;
  prevNode?: EtcdNode;
  /** X-Etcd-Index: the store's index when the member answered (for a watch: when the watch started). */
  etcdIndex: number;
  /** The endpoint that answered. */
  endpoint: string;
}

/** An error etcd answered with, in its own JSON shape. */
export class EtcdError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: number,
    readonly etcdMessage: string,
    readonly errorCause: string,
    /** The store index the error was produced at (etcd puts it in the body and in X-Etcd-Index). */
    readonly index: number,
  ) {
    super(`etcd error ${errorCode} (${etcdMessage})${errorCause === '' ? '' : `: ${errorCause}`} [index ${index}]`);
    this.name = 'EtcdError';
  }
}

/** No endpoint answered; `message` names each endpoint and what went wrong there, on one line. */
export class EndpointsUnavailableError extends Error {
  constructor(readonly failures: { endpoint: string; reason: string }[]) {
    super(`no etcd endpoint answered: ${failures.map((f) => `${f.endpoint} (${f.reason})`).join(', ')}`);
    this.name = 'EndpointsUnavailableError';
  }
}

/** A list of endpoints the user gave that cannot be used; the message is one line for a usage error. */
export class EndpointsSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EndpointsSyntaxError';
  }
}

/**
 * Parses a comma-separated endpoint list (`http://127.0.0.1:2379,http://127.0.0.1:22379`), as etcdctl takes
 * it. Only http: is supported (this example uses plain node:http). Trailing slashes are dropped.
 */
export function parseEndpoints(text: string): string[] {
  const parts = text.split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (parts.length === 0) throw new EndpointsSyntaxError('no endpoints given (expected e.g. http://127.0.0.1:2379)');
  return parts.map((part) => {
    let url: URL;
    try {
      url = new URL(part);
    } catch {
      throw new EndpointsSyntaxError(`endpoint '${part}' is not a URL (expected e.g. http://127.0.0.1:2379)`);
    }
    if (url.protocol !== 'http:') throw new EndpointsSyntaxError(`endpoint '${part}' must use http:// (this example speaks plain HTTP)`);
    if (url.pathname !== '/' || url.search !== '' || url.hash !== '') {
      throw new EndpointsSyntaxError(`endpoint '${part}' must be a base URL without a path (e.g. http://127.0.0.1:2379)`);
    }
    return `${url.protocol}//${url.host}`;
  });
}

/**
 * Reads etcd's error JSON. Returns null when the body is not etcd-shaped (a proxy's HTML page, an empty
 * body), so that the caller treats it as a failed endpoint rather than as an answer.
 */
export function parseEtcdError(status: number, body: string, headerIndex = 0): EtcdError | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null) return null;
  const record = parsed as Record<string, unknown>;
  if (typeof record.errorCode !== 'number' || !Number.isInteger(record.errorCode)) return null;
  const message = typeof record.message === 'string' ? record.message : '';
  const cause = typeof record.cause === 'string' ? record.cause : '';
  const index = typeof record.index === 'number' && Number.isSafeInteger(record.index) ? record.index : headerIndex;
  return new EtcdError(status, record.errorCode, message, cause, index);
}

function isNode(value: unknown): value is EtcdNode {
  if (typeof value !== 'object' || value === null) return false;
  const node = value as Record<string, unknown>;
  if (typeof node.key !== 'string' && node.key !== undefined) return false;
  if (node.nodes !== undefined && !(Array.isArray(node.nodes) && node.nodes.every(isNode))) return false;
  return node.value === undefined || typeof node.value === 'string';
}

/** Parses a successful v2 reply; null when it is not the shape etcd sends (then the endpoint is suspect). */
export function parseEtcdResponse(body: string, etcdIndex: number, endpoint: string): EtcdResponse | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null) return null;
  const record = parsed as Record<string, unknown>;
  if (typeof record.action !== 'string' || !isNode(record.node)) return null;
  if (record.prevNode !== undefined && !isNode(record.prevNode)) return null;
  // etcd omits the root's key ("/"), everything else carries one.
  const node: EtcdNode = { ...record.node, key: record.node.key ?? '/' };
  return {
    action: record.action,
    node,
    ...(record.prevNode === undefined ? {} : { prevNode: record.prevNode as EtcdNode }),
    etcdIndex,
    endpoint,
  };
}

/** `/services/web/a` -> `/v2/keys/services/web/a`, each segment escaped so odd key names stay one key. */
export function keyPath(key: string): string {
  const segments = key.split('/').filter((s) => s !== '');
  return '/v2/keys/' + segments.map(encodeURIComponent).join('/');
}

export interface V2ClientOptions {
  endpoints: string[];
  /** Bound on one attempt against one endpoint (not on a watch's wait for an event). Default 1000 ms. */
  requestTimeoutMs?: number;
  /**
   * Bound on one watch long poll. A member that vanished without closing the connection (a partition, a
   * frozen host) would otherwise hold the watch forever; after this the watch is re-issued at the same index.
   * Default 60 s.
   */
  watchTimeoutMs?: number;
}

export interface GetOptions {
  recursive?: boolean;
  /** Read through Raft (linearizable) instead of the contacted member's possibly stale local store. */
  quorum?: boolean;
  sorted?: boolean;
}

export interface SetOptions {
  /** Omitted for a refresh: etcd refuses a value together with refresh=true. */
  value?: string;
  ttl?: number;
  /** Extend the TTL without changing the value and without waking watchers. */
  refresh?: boolean;
  prevExist?: boolean;
  prevValue?: string;
  prevIndex?: number;
}

export interface DeleteOptions {
  recursive?: boolean;
  dir?: boolean;
  prevValue?: string;
  prevIndex?: number;
}

export interface WatchOptions {
  waitIndex: number;
  recursive?: boolean;
  /** Aborts the long poll (the promise then rejects with an AbortError). */
  signal?: AbortSignal;
}

interface RawReply {
  status: number;
  body: string;
  etcdIndex: number;
}

/** Thrown inside one attempt when the endpoint, not etcd's logic, failed; moves on to the next endpoint. */
class AttemptFailed extends Error {}

export class V2Client {
  readonly endpoints: readonly string[];
  private preferred = 0;
  private readonly requestTimeoutMs: number;
  private readonly watchTimeoutMs: number;

  constructor(options: V2ClientOptions) {
    if (options.endpoints.length === 0) throw new EndpointsSyntaxError('no endpoints given');
    this.endpoints = [...options.endpoints];
    this.requestTimeoutMs = options.requestTimeoutMs ?? 1_000;
    this.watchTimeoutMs = options.watchTimeoutMs ?? 60_000;
  }

  /** The endpoint the next request tries first. */
  get currentEndpoint(): string {
    return this.endpoints[this.preferred]!;
  }

  get(key: string, options: GetOptions = {}): Promise<EtcdResponse> {
    const query = new URLSearchParams();
    if (options.recursive) query.set('recursive', 'true');
    if (options.quorum) query.set('quorum', 'true');
    if (options.sorted) query.set('sorted', 'true');
    return this.send('GET', key, query, undefined, this.requestTimeoutMs);
  }

  set(key: string, options: SetOptions = {}): Promise<EtcdResponse> {
    const query = new URLSearchParams();
    const form = new URLSearchParams();
    if (options.value !== undefined) form.set('value', options.value);
    if (options.ttl !== undefined) query.set('ttl', String(options.ttl));
    if (options.refresh) query.set('refresh', 'true');
    if (options.prevExist !== undefined) query.set('prevExist', String(options.prevExist));
    if (options.prevValue !== undefined) query.set('prevValue', options.prevValue);
    if (options.prevIndex !== undefined) query.set('prevIndex', String(options.prevIndex));
    return this.send('PUT', key, query, form.toString(), this.requestTimeoutMs);
  }

  delete(key: string, options: DeleteOptions = {}): Promise<EtcdResponse> {
    const query = new URLSearchParams();
    if (options.recursive) query.set('recursive', 'true');
    if (options.dir) query.set('dir', 'true');
    if (options.prevValue !== undefined) query.set('prevValue', options.prevValue);
    if (options.prevIndex !== undefined) query.set('prevIndex', String(options.prevIndex));
    return this.send('DELETE', key, query, undefined, this.requestTimeoutMs);
  }

  /**
   * Waits for the first change under `key` at or after `waitIndex`. The reply's node carries the change's own
   * index (`node.modifiedIndex`); continue from that + 1, not from X-Etcd-Index, which etcd stamps when the
   * watch began. A watch whose index fell out of etcd's event history rejects with EtcdError 401.
   */
  watch(key: string, options: WatchOptions): Promise<EtcdResponse> {
    const query = new URLSearchParams({ wait: 'true', waitIndex: String(options.waitIndex) });
    if (options.recursive) query.set('recursive', 'true');
    return this.send('GET', key, query, undefined, this.watchTimeoutMs, options.signal);
  }

  private async send(
    method: string,
    key: string,
    query: URLSearchParams,
    form: string | undefined,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<EtcdResponse> {
    const path = keyPath(key) + (query.size > 0 ? `?${query.toString()}` : '');
    const failures: { endpoint: string; reason: string }[] = [];
    for (let attempt = 0; attempt < this.endpoints.length; attempt++) {
      const index = (this.preferred + attempt) % this.endpoints.length;
      const endpoint = this.endpoints[index]!;
      try {
        const reply = await exchange(endpoint, method, path, form, timeoutMs, signal);
        if (reply.status >= 500) {
          const error = parseEtcdError(reply.status, reply.body, reply.etcdIndex);
          throw new AttemptFailed(`HTTP ${reply.status}${error === null ? '' : ` ${error.etcdMessage}`}`);
        }
        if (reply.status >= 400) {
          const error = parseEtcdError(reply.status, reply.body, reply.etcdIndex);
          if (error === null) throw new AttemptFailed(`HTTP ${reply.status} without etcd's error body`);
          this.preferred = index;
          throw error;
        }
        const parsed = parseEtcdResponse(reply.body, reply.etcdIndex, endpoint);
        if (parsed === null) throw new AttemptFailed(`HTTP ${reply.status} with a body that is not a v2 reply`);
        this.preferred = index;
        return parsed;
      } catch (err) {
        if (!(err instanceof AttemptFailed)) throw err;
        failures.push({ endpoint, reason: err.message });
      }
    }
    throw new EndpointsUnavailableError(failures);
  }
}

/** One HTTP exchange, bounded by `timeoutMs` from start to the last body byte. */
function exchange(
  endpoint: string,
  method: string,
  path: string,
  form: string | undefined,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<RawReply> {
  return new Promise((resolveReply, reject) => {
    if (signal?.aborted) return reject(abortError());
    const url = new URL(path, endpoint);
    const headers: Record<string, string> = {};
    if (form !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      headers['content-length'] = String(Buffer.byteLength(form));
    }
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const req = request(url, { method, headers, agent: false }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const header = res.headers['x-etcd-index'];
        const etcdIndex = Number(Array.isArray(header) ? header[0] : header);
        const body = Buffer.concat(chunks).toString('utf8');
        finish(() => resolveReply({ status: res.statusCode ?? 0, body, etcdIndex: Number.isSafeInteger(etcdIndex) ? etcdIndex : 0 }));
      });
      res.on('error', (err) => finish(() => reject(new AttemptFailed(describeNetworkError(err)))));
      // A member that dies mid-reply closes the socket before 'end'.
      res.on('aborted', () => finish(() => reject(new AttemptFailed('connection closed mid-reply'))));
    });
    const timer = setTimeout(() => {
      finish(() => reject(new AttemptFailed(`no reply within ${timeoutMs} ms`)));
      req.destroy();
    }, timeoutMs);
    const onAbort = () => {
      finish(() => reject(abortError()));
      req.destroy();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (err) => finish(() => reject(new AttemptFailed(describeNetworkError(err)))));
    req.end(form);
  });
}

function describeNetworkError(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ECONNRESET') return 'connection reset';
  return code ?? err.message;
}

function abortError(): Error {
  const err = new Error('the request was aborted');
  err.name = 'AbortError';
  return err;
}
