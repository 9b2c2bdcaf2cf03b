// Bootstrapping a new cluster through etcd's v2 discovery protocol, as CoreOS machines did: every new member
// registers itself in a directory of some v2 server (real etcd or raftsim) and waits until the expected number
// of members has registered; their registrations, in creation order, are the cluster (what --initial-cluster
// would have said). The directory is the discovery URL; its `_config/size` key holds the expected size.
//
//   GET  <url>/_config/size                 the size (404: nobody created the token)
//   GET  <url>                              who registered so far, with the index to watch from
//   PUT  <url>/<member id>?prevExist=false  value=<name>=<peer URL>[,<name>=<peer URL>...]
//   GET  <url>?wait=true&recursive=true&waitIndex=N   the next registration
//
// A member that is not among the first `size` registrations finds the cluster full. All I/O is node:http.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { ClusterPeer } from './config.ts';

/** Discovery failed: one line for the operator (`raftsim serve` exits 2 with it). */
export class DiscoveryError extends Error {
  override name = 'DiscoveryError';
}

export interface DiscoveryOptions {
  /** The token's directory, e.g. http://127.0.0.1:2379/v2/keys/_etcd/registry/<token>. */
  url: string;
  /** This member's id (hex) and the registration value's parts. */
  memberId: string;
  name: string;
  peerUrls: string[];
  log?: (line: string) => void;
  /** Attempts at reaching the discovery server before giving up (etcd retries for ever). Default 5. */
  attempts?: number;
  /** First retry delay; it doubles per attempt. Default 500 ms. */
  backoffMs?: number;
  /** One plain request (not a watch) may take this long. Default 5000 ms. */
  requestTimeoutMs?: number;
  /** Stop waiting for the other members after this long; default: wait as long as it takes, as etcd does. */
  waitTimeoutMs?: number;
}

interface V2Node {
  key: string;
  value?: string;
  dir?: boolean;
  createdIndex: number;
  modifiedIndex: number;
  nodes?: V2Node[];
}

interface V2Reply {
  status: number;
  etcdIndex: number | null;
  body: { action?: string; node?: V2Node; errorCode?: number; message?: string; cause?: string } | null;
}

/** A network failure worth retrying (the server is down or restarting), as opposed to a wrong answer. */
class Unreachable extends Error {}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function get(url: string, timeoutMs: number | null): Promise<V2Reply> {
  return v2Request('GET', url, null, timeoutMs);
}

function v2Request(method: string, url: string, form: string | null, timeoutMs: number | null): Promise<V2Reply> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const headers: Record<string, string> = form === null ? {} : { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(form)) };
    const req = httpRequest({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers, agent: false }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (err) => reject(new Unreachable(err.message)));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: V2Reply['body'] = null;
        try {
          body = JSON.parse(text) as V2Reply['body'];
        } catch {
          body = null;
        }
        const index = Number(res.headers['x-etcd-index']);
        resolve({ status: res.statusCode ?? 0, etcdIndex: Number.isSafeInteger(index) ? index : null, body });
      });
    });
    if (timeoutMs !== null) req.setTimeout(timeoutMs, () => req.destroy(new Unreachable(`no reply within ${timeoutMs} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => reject(err instanceof Unreachable ? err : new Unreachable(err.code ?? err.message)));
    req.end(form ?? undefined);
  });
}

/** `name=url,name=url` as etcd's types.NewURLsMap reads it (a name may repeat, one URL each). */
function parseRegistration(value: string, into: Map<string, string[]>): boolean {
  for (const part of value.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return false;
    const url = part.slice(eq + 1);
    try {
      if (new URL(url).port === '') return false;
    } catch {
      return false;
    }
    const name = part.slice(0, eq);
    into.set(name, [...(into.get(name) ?? []), url]);
  }
  return true;
}

/**
 * Registers this member under the discovery URL and resolves with the whole initial cluster once `size` members
 * have registered. Throws DiscoveryError with etcd's reasons: size key not found or bad, cluster full, duplicate
 * id or name, invalid URL, bad discovery endpoint, and (after `attempts`) an unreachable server.
 */
export async function discoverCluster(options: DiscoveryOptions): Promise<ClusterPeer[]> {
  const base = options.url.replace(/\/+$/, '');
  const log = options.log ?? (() => {});
  const attempts = options.attempts ?? 5;
  const backoffMs = options.backoffMs ?? 500;
  const timeoutMs = options.requestTimeoutMs ?? 5000;
  const deadline = options.waitTimeoutMs === undefined ? Infinity : Date.now() + options.waitTimeoutMs;
  // Keys in replies are store paths: the URL's path less the keys API prefix.
  const dir = decodeURIComponent(new URL(base).pathname).replace(/^\/v2\/keys/, '');
  const selfKey = `${dir}/${options.memberId}`;
  let failures = 0;

  /** Runs one step, retrying it while the server cannot be reached. */
  const retrying = async <T>(what: string, step: () => Promise<T>): Promise<T> => {
    for (;;) {
      try {
        const result = await step();
        failures = 0;
        return result;
      } catch (err) {
        if (!(err instanceof Unreachable)) throw err;
        failures++;
        if (failures >= attempts) throw new DiscoveryError(`discovery: cannot reach ${new URL(base).origin} (${err.message}) while ${what}; gave up after ${attempts} attempts`);
        const delay = backoffMs * 2 ** (failures - 1);
        log(`raftsim: discovery: ${new URL(base).origin} unreachable (${err.message}) while ${what}; retrying in ${delay} ms`);
        await sleep(delay);
      }
    }
  };

  const badEndpoint = (reply: V2Reply, url: string) =>
    new DiscoveryError(`discovery: bad discovery endpoint: ${url} answered ${reply.status}${reply.body?.message === undefined ? ' without an etcd v2 reply' : ` (${reply.body.message})`}`);

  /** The size, the registrations in creation order, and the index to watch after. */
  const check = async (): Promise<{ size: number; nodes: V2Node[]; index: number }> => {
    const sizeUrl = `${base}/_config/size`;
    const sizeReply = await get(sizeUrl, timeoutMs);
    if (sizeReply.status === 404 && sizeReply.body?.errorCode === 100) {
      throw new DiscoveryError(`discovery: size key not found: nothing at ${sizeUrl} (create the token first: PUT ${sizeUrl} with value=<size>)`);
    }
    if (sizeReply.status !== 200 || sizeReply.body?.node === undefined) throw badEndpoint(sizeReply, sizeUrl);
    const sizeText = sizeReply.body.node.value ?? '';
    if (!/^\d+$/.test(sizeText) || Number(sizeText) < 1) throw new DiscoveryError(`discovery: size key is bad: ${sizeUrl} holds '${sizeText}', not a positive whole number`);
    const size = Number(sizeText);
    const listing = await get(base, timeoutMs);
    if (listing.status !== 200 || listing.body?.node === undefined || listing.etcdIndex === null) throw badEndpoint(listing, base);
    const nodes = (listing.body.node.nodes ?? []).filter((n) => !n.key.endsWith('/_config') && n.dir !== true).sort((a, b) => a.createdIndex - b.createdIndex);
    return { size, nodes, index: listing.etcdIndex };
  };

  const fullError = (size: number, nodes: V2Node[]) =>
    new DiscoveryError(`discovery: cluster is full: ${size} members registered at ${base} before this one (${nodes.slice(0, size).map((n) => n.value).join(', ')})`);
  const isSelf = (n: V2Node) => n.key === selfKey;

  // Fast path, as etcd: a full cluster is refused before registering.
  const before = await retrying('reading the cluster size', check);
  if (before.nodes.length >= before.size && !before.nodes.slice(0, before.size).some(isSelf)) throw fullError(before.size, before.nodes);

  const registration = options.peerUrls.map((u) => `${options.name}=${u}`).join(',');
  const created = await retrying('registering', () => v2Request('PUT', `${base}/${options.memberId}?prevExist=false`, `value=${encodeURIComponent(registration)}`, timeoutMs));
  if (created.status === 412 && created.body?.errorCode === 105) throw new DiscoveryError(`discovery: found duplicate id: ${base}/${options.memberId} is already registered (a member with these peer URLs and token joined before; use a new token)`);
  if (created.status !== 201 || created.body?.node === undefined) throw badEndpoint(created, `${base}/${options.memberId}`);
  log(`raftsim: discovery: registered ${registration} as ${options.memberId} at ${base}`);

  let { size, nodes, index } = await retrying('listing the registered members', check);
  if (!nodes.slice(0, size).some(isSelf)) throw fullError(size, nodes);
  const members = nodes.slice(0, size);
  while (members.length < size) {
    log(`raftsim: discovery: ${members.length} of ${size} members registered at ${base}; waiting for ${size - members.length} more`);
    if (Date.now() > deadline) throw new DiscoveryError(`discovery: only ${members.length} of ${size} members registered at ${base} within ${options.waitTimeoutMs} ms`);
    const watchUrl = `${base}?wait=true&recursive=true&waitIndex=${index + 1}`;
    const remaining = deadline === Infinity ? null : Math.max(1, deadline - Date.now());
    let event: V2Reply;
    try {
      event = await retrying('waiting for the other members', () => get(watchUrl, remaining));
    } catch (err) {
      if (err instanceof DiscoveryError && remaining !== null && Date.now() >= deadline) throw new DiscoveryError(`discovery: only ${members.length} of ${size} members registered at ${base} within ${options.waitTimeoutMs} ms`);
      throw err;
    }
    if (event.status === 400 && event.body?.errorCode === 401) {
      // The watch fell out of the server's event history: start again from a fresh listing.
      ({ size, nodes, index } = await retrying('listing the registered members', check));
      members.splice(0, members.length, ...nodes.slice(0, size));
      continue;
    }
    const node = event.body?.node;
    if (event.status !== 200 || node === undefined) throw badEndpoint(event, watchUrl);
    index = Math.max(index, node.modifiedIndex);
    const registers = event.body?.action === 'create' || event.body?.action === 'set';
    const direct = node.key.slice(0, node.key.lastIndexOf('/')) === dir;
    if (registers && direct && !node.key.endsWith('/_config') && !members.some((m) => m.key === node.key)) members.push(node);
  }
  log(`raftsim: discovery: all ${size} members registered at ${base}`);

  const byName = new Map<string, string[]>();
  for (const m of members) {
    if (m.value === undefined || !parseRegistration(m.value, byName)) throw new DiscoveryError(`discovery: invalid URL: ${m.key} holds '${m.value ?? ''}', not name=http://host:port`);
  }
  if (byName.size !== size) throw new DiscoveryError(`discovery: found duplicate name: ${size} registrations at ${base} name only ${byName.size} members (${[...byName.keys()].join(', ')})`);
  return [...byName].map(([name, peerUrls]) => ({ name, peerUrls }));
}
