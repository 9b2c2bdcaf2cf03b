// Rendering replies of etcd's v2 keys API: status, headers and the JSON text etcd writes (Go's
// encoding/json field order and omissions, a trailing newline from json.Encoder).
import { httpStatusOfError } from '../kv/errors.ts';
import { formatRfc3339Nano } from '../kv/time.ts';
import type { EtcdError, KeysRequest, NodeView, StoreEvent, StoreResult, StoreStats } from '../kv/types.ts';
import { goJsonString } from './json.ts';

export type KeysReply =
  /** A completed read or write. */
  | { type: 'event'; event: StoreEvent; method: KeysRequest['method']; noValueOnSuccess: boolean }
  | { type: 'error'; error: EtcdError }
  /** A watch: `startIndex` is the store index when it was registered; `events` those delivered (a
   * non-stream watch has at most one; none means it timed out). */
  | { type: 'watch'; startIndex: number; events: StoreEvent[] }
  /** A reply from Go's HTTP machinery rather than etcd (redirect, 404, 405, 400). */
  | { type: 'http'; status: number; headers: Record<string, string>; body: string };

/** Headers etcd adds from outside the store; each is left out when not given. */
export interface ReplyContext {
  /** The request's method: Go's server sends no body in reply to HEAD, whatever the reply. */
  method?: string;
  clusterId?: string;
  raftIndex?: number;
  raftTerm?: number;
}

export interface HttpResponse {
  status: number;
  /** Lower-case header names. */
  headers: Record<string, string>;
  body: string;
}

export function nodeJson(n: NodeView): string {
  const parts: string[] = [];
  // The root prints no key: etcd's internal root "/1" is trimmed to "".
  if (n.key !== '/' && n.key !== '') parts.push('"key":' + goJsonString(n.key));
  if (n.value !== null) parts.push('"value":' + goJsonString(n.value));
  if (n.dir) parts.push('"dir":true');
  if (n.expiration !== null) parts.push('"expiration":"' + formatRfc3339Nano(n.expiration) + '"');
  if (n.ttl !== 0) parts.push('"ttl":' + n.ttl);
  if (n.nodes !== null && n.nodes.length > 0) parts.push('"nodes":[' + n.nodes.map(nodeJson).join(',') + ']');
  if (n.modifiedIndex !== 0) parts.push('"modifiedIndex":' + n.modifiedIndex);
  if (n.createdIndex !== 0) parts.push('"createdIndex":' + n.createdIndex);
  return '{' + parts.join(',') + '}';
}

/** An event as etcd serialises it; `withNodes` false is noValueOnSuccess (node and prevNode dropped). */
export function eventJson(e: StoreEvent, withNodes = true): string {
  let out = '{"action":' + goJsonString(e.action);
  if (withNodes) {
    out += ',"node":' + nodeJson(e.node);
    if (e.prevNode !== null) out += ',"prevNode":' + nodeJson(e.prevNode);
  }
  // `refresh` never reaches the wire: etcd copies the event before trimming its key prefix, and the copy
  // leaves the flag behind.
  return out + '}';
}

export function errorJson(e: EtcdError): string {
  let out = '{"errorCode":' + e.errorCode + ',"message":' + goJsonString(e.message);
  if (e.cause !== '') out += ',"cause":' + goJsonString(e.cause);
  return out + ',"index":' + e.index + '}';
}

/** etcd answers 201 Created when a write made a new node. */
export function isCreated(e: StoreEvent): boolean {
  return e.action === 'create' || (e.action === 'set' && e.prevNode === null);
}

function baseHeaders(ctx: ReplyContext): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (ctx.clusterId !== undefined) headers['x-etcd-cluster-id'] = ctx.clusterId;
  return headers;
}

function raftHeaders(headers: Record<string, string>, ctx: ReplyContext): void {
  if (ctx.raftIndex !== undefined) headers['x-raft-index'] = String(ctx.raftIndex);
  if (ctx.raftTerm !== undefined) headers['x-raft-term'] = String(ctx.raftTerm);
}

const WRITES_WITH_VALUE = new Set(['set', 'compareAndSwap', 'create', 'update']);

export function renderKeysResponse(reply: KeysReply, ctx: ReplyContext = {}): HttpResponse {
  const response = renderWithBody(reply, ctx);
  if (ctx.method === 'HEAD') response.body = '';
  return response;
}

function renderWithBody(reply: KeysReply, ctx: ReplyContext): HttpResponse {
  switch (reply.type) {
    case 'http':
      return { status: reply.status, headers: { ...reply.headers }, body: reply.body };
    case 'error': {
      const headers = baseHeaders(ctx);
      headers['x-etcd-index'] = String(reply.error.index);
      return { status: httpStatusOfError(reply.error.errorCode), headers, body: errorJson(reply.error) + '\n' };
    }
    case 'event': {
      const e = reply.event;
      const headers = baseHeaders(ctx);
      headers['x-etcd-index'] = String(e.etcdIndex);
      raftHeaders(headers, ctx);
      const withNodes = !(reply.noValueOnSuccess && WRITES_WITH_VALUE.has(e.action));
      // Go's server drops the body of a HEAD reply.
      const body = reply.method === 'HEAD' ? '' : eventJson(e, withNodes) + '\n';
      return { status: isCreated(e) ? 201 : 200, headers, body };
    }
    case 'watch': {
      const headers = baseHeaders(ctx);
      headers['x-etcd-index'] = String(reply.startIndex);
      raftHeaders(headers, ctx);
      return { status: 200, headers, body: reply.events.map((e) => eventJson(e) + '\n').join('') };
    }
  }
}

/** The reply to a request given the store's result for it. */
export function replyOf(request: KeysRequest, result: StoreResult): KeysReply {
  if (!result.ok) return { type: 'error', error: result.error };
  return { type: 'event', event: result.event, method: request.method, noValueOnSuccess: request.noValueOnSuccess };
}

/** `/v2/stats/store` as etcd writes it (no trailing newline). */
export function renderStoreStats(stats: StoreStats): HttpResponse {
  const fields = Object.entries(stats).map(([k, v]) => `"${k}":${v}`);
  return { status: 200, headers: { 'content-type': 'application/json' }, body: '{' + fields.join(',') + '}' };
}
