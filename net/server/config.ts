// The member's configuration from etcd's own flag names and ETCD_* environment variables, read the way etcd 3.4
// reads them: a flag wins over its variable, defaults are etcd's (except that everything binds loopback), and
// each flag may be written --flag=value, --flag value or Go's single-dash -flag. Pure: argv and env in,
// a checked `ServerConfig` or a one-line `ConfigError` out.
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface ClusterPeer {
  name: string;
  peerUrls: string[];
}

export interface ServerConfig {
  name: string;
  dataDir: string;
  /** Where client HTTP listens (each an http://host:port URL). */
  listenClientUrls: string[];
  advertiseClientUrls: string[];
  listenPeerUrls: string[];
  initialAdvertisePeerUrls: string[];
  initialCluster: ClusterPeer[];
  initialClusterState: 'new' | 'existing';
  initialClusterToken: string;
  heartbeatIntervalMs: number;
  electionTimeoutMs: number;
  /** Applied entries between snapshots (etcd's --snapshot-count). */
  snapshotCount: number;
  /** etcd's --max-request-bytes, accepted for compatibility: etcd applies it to v3 requests only, and v2 bodies are
   * bounded by Go's 10 MiB form limit (docs/COMPATIBILITY.md). */
  maxRequestBytes: number;
  /** An etcd v2 discovery URL (`http://host:port/v2/keys/<prefix>/<token>`): a new member learns its cluster there
   * instead of from --initial-cluster (net/server/discovery.ts). */
  discoveryUrl: string | null;
}

/** Every flag `raftsim serve` takes; the ETCD_* variable of each is its name upper-cased with _ for -. */
export const SERVE_FLAGS = [
  'name',
  'data-dir',
  'listen-client-urls',
  'advertise-client-urls',
  'listen-peer-urls',
  'initial-advertise-peer-urls',
  'initial-cluster',
  'initial-cluster-state',
  'initial-cluster-token',
  'heartbeat-interval',
  'election-timeout',
  'snapshot-count',
  'max-request-bytes',
  'enable-v2',
  'discovery',
] as const;

type FlagName = (typeof SERVE_FLAGS)[number];

export function envName(flag: string): string {
  return 'ETCD_' + flag.toUpperCase().replace(/-/g, '_');
}

/** Go's flag package accepts -name as well as --name; Node's parser wants the double dash. */
function normalizeDashes(argv: string[]): string[] {
  return argv.map((a) => (/^-[a-z][a-z0-9-]+(=.*)?$/s.test(a) ? '-' + a : a));
}

function parseUrlList(flag: string, text: string): string[] {
  const urls = text.split(',').map((u) => u.trim()).filter((u) => u !== '');
  if (urls.length === 0) throw new ConfigError(`--${flag} needs at least one URL`);
  for (const u of urls) checkUrl(flag, u);
  return urls;
}

function checkUrl(flag: string, text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`--${flag}: '${text}' is not a URL (expected http://host:port)`);
  }
  if (url.protocol !== 'http:') throw new ConfigError(`--${flag}: '${text}' uses ${url.protocol.replace(':', '')}, only http is supported`);
  if (url.port === '') throw new ConfigError(`--${flag}: '${text}' has no port`);
  if (url.pathname !== '/' && url.pathname !== '') throw new ConfigError(`--${flag}: '${text}' must not have a path`);
  return url;
}

/** `name1=url1,name2=url2` (a name may appear more than once, for several peer URLs). */
export function parseInitialCluster(text: string): ClusterPeer[] {
  const peers: ClusterPeer[] = [];
  for (const part of text.split(',').map((p) => p.trim()).filter((p) => p !== '')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new ConfigError(`--initial-cluster: '${part}' is not name=url`);
    const name = part.slice(0, eq);
    const url = part.slice(eq + 1);
    checkUrl('initial-cluster', url);
    const existing = peers.find((p) => p.name === name);
    if (existing !== undefined) existing.peerUrls.push(url);
    else peers.push({ name, peerUrls: [url] });
  }
  if (peers.length === 0) throw new ConfigError('--initial-cluster is empty');
  return peers;
}

function parseWhole(flag: string, text: string, min: number): number {
  if (!/^\d+$/.test(text)) throw new ConfigError(`--${flag} takes a whole number, got '${text}'`);
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min) throw new ConfigError(`--${flag} must be at least ${min}, got '${text}'`);
  return n;
}

/** URLs compared as etcd compares them (scheme, host and port; localhost is 127.0.0.1). */
function sameUrl(a: string, b: string): boolean {
  const norm = (u: string) => {
    const url = new URL(u);
    const host = url.hostname === 'localhost' ? '127.0.0.1' : url.hostname;
    return `${url.protocol}//${host}:${url.port}`;
  };
  return norm(a) === norm(b);
}

/** A discovery URL names a directory of some v2 server's keys API: http, a port, and a path (the token). */
function checkDiscoveryUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`--discovery: '${text}' is not a URL (expected http://host:port/v2/keys/_etcd/registry/<token>)`);
  }
  if (url.protocol !== 'http:') throw new ConfigError(`--discovery: '${text}' uses ${url.protocol.replace(':', '')}, only http is supported`);
  if (url.pathname === '/' || url.pathname === '') throw new ConfigError(`--discovery: '${text}' has no path; it must name the token's directory, e.g. http://host:port/v2/keys/_etcd/registry/<token>`);
  if (url.search !== '' || url.hash !== '') throw new ConfigError(`--discovery: '${text}' must not have a query or fragment`);
  if (!url.pathname.startsWith('/v2/keys/')) throw new ConfigError(`--discovery: '${text}' must name a directory of the v2 keys API (its path starts with /v2/keys/)`);
  return url.href.replace(/\/+$/, '');
}

/**
 * Reads `raftsim serve`'s flags and ETCD_* variables. `warn` gets one line per unknown variable. Throws
 * ConfigError (one line) for anything etcd would refuse, a variable and a flag for the same setting included.
 */
export function parseServeConfig(argv: string[], env: Record<string, string | undefined>, warn: (line: string) => void = () => {}): ServerConfig {
  const options = Object.fromEntries(SERVE_FLAGS.map((f) => [f, { type: 'string' as const }]));
  let values: Record<string, string | undefined>;
  try {
    const parsed = parseArgs({ args: normalizeDashes(argv), options, allowPositionals: false, strict: true });
    values = parsed.values as Record<string, string | undefined>;
  } catch (err) {
    throw new ConfigError((err instanceof Error ? err.message : String(err)).split('\n')[0]!);
  }
  const known = new Set(SERVE_FLAGS.map(envName));
  for (const key of Object.keys(env)) {
    if (key.startsWith('ETCD_') && !known.has(key) && env[key] !== undefined) warn(`raftsim serve: ignoring unrecognized environment variable ${key}`);
  }
  const get = (flag: FlagName): string | undefined => {
    const fromFlag = values[flag];
    const fromEnv = env[envName(flag)];
    if (fromFlag !== undefined) {
      // etcd 3.4 refuses to start rather than guess which of the two was meant (pkg/flags, exit 1).
      if (fromEnv !== undefined) throw new ConfigError(`conflicting environment variable ${envName(flag)} is shadowed by --${flag} (unset the variable or drop the flag)`);
      return fromFlag;
    }
    return fromEnv;
  };

  const discovery = get('discovery');
  const discoveryUrl = discovery === undefined || discovery === '' ? null : checkDiscoveryUrl(discovery);
  if (discoveryUrl !== null && get('initial-cluster') !== undefined) {
    throw new ConfigError('multiple discovery or bootstrap flags are set: choose one of --initial-cluster or --discovery');
  }
  const enableV2 = get('enable-v2');
  if (enableV2 !== undefined && !['true', '1', 'false', '0'].includes(enableV2)) throw new ConfigError(`--enable-v2 takes true or false, got '${enableV2}'`);
  if (enableV2 === 'false' || enableV2 === '0') throw new ConfigError('--enable-v2=false: raftsim only serves the v2 API');

  const name = get('name') ?? 'default';
  if (name === '' || /[,=\s]/.test(name)) throw new ConfigError(`--name '${name}' must be non-empty without commas, '=' or spaces`);
  const dataDir = get('data-dir') ?? `${name}.etcd`;
  if (dataDir === '') throw new ConfigError('--data-dir must not be empty');
  const listenClientUrls = parseUrlList('listen-client-urls', get('listen-client-urls') ?? 'http://localhost:2379');
  const advertiseClientUrls = parseUrlList('advertise-client-urls', get('advertise-client-urls') ?? 'http://localhost:2379');
  const listenPeerUrls = parseUrlList('listen-peer-urls', get('listen-peer-urls') ?? 'http://localhost:2380');
  if (listenPeerUrls.length > 1) throw new ConfigError('--listen-peer-urls: raftsim listens on one peer URL');
  const initialAdvertisePeerUrls = parseUrlList('initial-advertise-peer-urls', get('initial-advertise-peer-urls') ?? 'http://localhost:2380');
  const initialCluster = parseInitialCluster(get('initial-cluster') ?? `${name}=${initialAdvertisePeerUrls.join(`,${name}=`)}`);
  const state = get('initial-cluster-state') ?? 'new';
  if (state !== 'new' && state !== 'existing') throw new ConfigError(`--initial-cluster-state must be new or existing, got '${state}'`);
  const initialClusterToken = get('initial-cluster-token') ?? 'etcd-cluster';
  const heartbeatIntervalMs = parseWhole('heartbeat-interval', get('heartbeat-interval') ?? '100', 1);
  const electionTimeoutMs = parseWhole('election-timeout', get('election-timeout') ?? '1000', 1);
  if (electionTimeoutMs < 5 * heartbeatIntervalMs) {
    throw new ConfigError(`--election-timeout (${electionTimeoutMs}) must be at least 5 times --heartbeat-interval (${heartbeatIntervalMs})`);
  }
  const snapshotCount = parseWhole('snapshot-count', get('snapshot-count') ?? '10000', 1);
  const maxRequestBytes = parseWhole('max-request-bytes', get('max-request-bytes') ?? String(1536 * 1024), 1);

  const self = initialCluster.find((p) => p.name === name);
  if (self === undefined) throw new ConfigError(`--initial-cluster has no member named '${name}' (this member's --name)`);
  for (const url of initialAdvertisePeerUrls) {
    if (!self.peerUrls.some((u) => sameUrl(u, url))) {
      throw new ConfigError(`--initial-cluster gives ${name}=${self.peerUrls.join(',')} but --initial-advertise-peer-urls is ${initialAdvertisePeerUrls.join(',')}`);
    }
  }
  const seen = new Map<string, string>();
  for (const peer of initialCluster) {
    for (const url of peer.peerUrls) {
      const key = new URL(url).host;
      const other = seen.get(key);
      if (other !== undefined && other !== peer.name) throw new ConfigError(`--initial-cluster: ${other} and ${peer.name} share the peer URL ${url}`);
      seen.set(key, peer.name);
    }
  }
  return {
    name,
    dataDir,
    listenClientUrls,
    advertiseClientUrls,
    listenPeerUrls,
    initialAdvertisePeerUrls,
    initialCluster,
    initialClusterState: state,
    initialClusterToken,
    heartbeatIntervalMs,
    electionTimeoutMs,
    snapshotCount,
    maxRequestBytes,
    discoveryUrl,
  };
}

/** A member's id from its peer URLs and the cluster token, as 16 hex digits (etcd derives it the same way, so
 * a member started with --initial-cluster-state existing knows its id and its peers' without asking). */
export function memberIdOf(peerUrls: readonly string[], token: string): string {
  const hash = createHash('sha1').update([...peerUrls].sort().join('') + token).digest();
  const id = hash.subarray(0, 8).toString('hex').replace(/^0+(?=.)/, '');
  return id;
}

/** The cluster id every member of a cluster shares (X-Etcd-Cluster-ID, and the transport handshake). */
export function clusterIdOf(token: string): string {
  return createHash('sha1').update('raftsim-cluster:' + token).digest().subarray(0, 8).toString('hex').replace(/^0+(?=.)/, '');
}

/** host and port of an http URL, with `localhost` bound as 127.0.0.1 so nothing listens beyond loopback by default. */
export function hostPortOf(url: string): { host: string; port: number } {
  const u = new URL(url);
  const host = u.hostname === 'localhost' ? '127.0.0.1' : u.hostname.replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(u.port) };
}
