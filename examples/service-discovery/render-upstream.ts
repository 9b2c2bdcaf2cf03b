// The watcher: renders an nginx `upstream` block per service from the registry and keeps the file current.
//
//   npx tsx examples/service-discovery/render-upstream.ts --out /etc/nginx/conf.d/upstreams.conf \
//     --reload-cmd 'nginx -s reload' --endpoints http://127.0.0.1:2379,http://127.0.0.1:22379
//
// It reads the whole prefix once (a quorum read, so the starting point is not a stale member's view), then
// long-polls `wait=true&recursive=true&waitIndex=<X-Etcd-Index + 1>` and applies each change to its copy,
// continuing from the change's own index + 1: no change is missed and nothing is polled. When etcd answers
// 401 "event index cleared" (more than its history of changes happened while we were not watching) it reads
// the prefix again and continues from the new index. The file is replaced atomically (write a temporary
// file, fsync, rename), and the reload command runs only when the rendered text differs from what is
// already there, so TTL refreshes and rewrites of an unchanged address never reload nginx.
import { spawn } from 'node:child_process';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { parseFlags } from '../../bin/args.ts';
import {
  DEFAULT_PREFIX,
  UsageError,
  isMain,
  isValidHost,
  isValidName,
  isValidPort,
  makeLogger,
  parseLogFormat,
  parsePrefix,
  resolveEndpoints,
  runMain,
  sleep,
  untilStopSignal,
  type Logger,
} from './cli.ts';
import { EndpointsUnavailableError, EtcdError, EtcdErrorCode, V2Client, type EtcdNode } from './v2client.ts';

export const RENDER_USAGE =
  'render-upstream.ts --out FILE [--reload-cmd CMD] [--endpoints URLS] [--prefix /services] [--log text|json]';
export const DEFAULT_RELOAD_COMMAND = 'echo "upstreams changed: reload nginx here (e.g. nginx -s reload)"';
const RELOAD_TIMEOUT_MS = 10_000;
const RETRY_PAUSE_MS = 500;

export interface UpstreamServer {
  service: string;
  instance: string;
  host: string;
  port: number;
}

/** Registered instances by etcd key. */
export type Registry = ReadonlyMap<string, UpstreamServer>;

export interface Applied {
  registry: Registry;
  /** Entries that were skipped, one line each (the registry is input: anyone with access can write to it). */
  warnings: string[];
}

/**
 * Reads one key under the prefix: an instance when the key is `<prefix>/<service>/<instance>` and the value is
 * `{"host": ..., "port": ...}` with safe names; a warning when it looks like an instance but is unusable (it
 * would otherwise end up verbatim in nginx's configuration); null for keys that are not instances at all.
 */
export function parseInstance(prefix: string, key: string, value: string | undefined): UpstreamServer | { warning: string } | null {
  if (!key.startsWith(prefix + '/')) return null;
  const segments = key.slice(prefix.length + 1).split('/');
  if (segments.length !== 2) return null;
  const [service, instance] = segments as [string, string];
  if (!isValidName(service) || !isValidName(instance)) return { warning: `${key}: service or instance name has characters nginx cannot take` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(value ?? '');
  } catch {
    return { warning: `${key}: value is not JSON {"host","port"}` };
  }
  const record = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  const { host, port } = record;
  if (typeof host !== 'string' || !isValidHost(host) || typeof port !== 'number' || !isValidPort(port)) {
    return { warning: `${key}: value is not a valid {"host","port"} address` };
  }
  return { service, instance, host, port };
}

function collectLeaves(node: EtcdNode, into: EtcdNode[]): void {
  if (node.dir) for (const child of node.nodes ?? []) collectLeaves(child, into);
  else into.push(node);
}

/** The registry from a recursive read of the prefix. */
export function registryFromSnapshot(prefix: string, root: EtcdNode | null): Applied {
  const registry = new Map<string, UpstreamServer>();
  const warnings: string[] = [];
  const leaves: EtcdNode[] = [];
  if (root !== null) collectLeaves(root, leaves);
  for (const leaf of leaves) {
    const parsed = parseInstance(prefix, leaf.key, leaf.value);
    if (parsed === null) continue;
    if ('warning' in parsed) warnings.push(parsed.warning);
    else registry.set(leaf.key, parsed);
  }
  return { registry, warnings };
}

const REMOVALS = new Set(['delete', 'expire', 'compareAndDelete']);

/** The registry after one watch event. A removed directory takes every instance below it along. */
export function applyEvent(prefix: string, registry: Registry, event: { action: string; node: EtcdNode }): Applied {
  const next = new Map(registry);
  const { key } = event.node;
  if (REMOVALS.has(event.action)) {
    next.delete(key);
    if (event.node.dir) for (const k of registry.keys()) if (k.startsWith(key + '/')) next.delete(k);
    return { registry: next, warnings: [] };
  }
  if (event.node.dir) return { registry: next, warnings: [] };
  const parsed = parseInstance(prefix, key, event.node.value);
  if (parsed === null) return { registry: next, warnings: [] };
  if ('warning' in parsed) {
    // An instance overwritten with garbage is no longer a usable address.
    next.delete(key);
    return { registry: next, warnings: [parsed.warning] };
  }
  next.set(key, parsed);
  return { registry: next, warnings: [] };
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * nginx configuration: one `upstream <service>` block per service with at least one instance, servers sorted,
 * so equal registries always render byte-identical text. Nothing that changes without the set of addresses
 * changing (indexes, times) appears in it, or every event would look like a change.
 */
export function renderUpstreams(registry: Registry): string {
  const services = new Map<string, UpstreamServer[]>();
  for (const server of registry.values()) {
    const list = services.get(server.service) ?? [];
    list.push(server);
    services.set(server.service, list);
  }
  const lines = ['# Rendered by render-upstream.ts from the service registry; local edits are overwritten.'];
  if (services.size === 0) lines.push('# No instances are registered.');
  for (const service of [...services.keys()].sort(byText)) {
    const servers = services.get(service)!.sort((a, b) => byText(a.instance, b.instance));
    lines.push('', `upstream ${service} {`);
    for (const s of servers) lines.push(`    server ${s.host}:${s.port}; # ${s.instance}`);
    lines.push('}');
  }
  return lines.join('\n') + '\n';
}

/** `service/instance` names in the registry, sorted (what the log and the demo report). */
export function describeRegistry(registry: Registry): string[] {
  return [...registry.values()].map((s) => `${s.service}/${s.instance}`).sort(byText);
}

/**
 * Replaces `path` with `content` so that a reader sees the old file or the new one, never a torn mix: the
 * text goes to a temporary file in the same directory (same filesystem, so rename is atomic), is synced,
 * and is renamed over the target.
 */
export async function writeFileAtomically(path: string, content: string): Promise<void> {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    const handle = await open(temporary, 'w', 0o644);
    try {
      await handle.writeFile(content, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (err) {
    await rm(temporary, { force: true });
    throw err;
  }
}

/** Runs the reload command through the shell, bounded in time; resolves with its exit code (or the signal). */
export function runReloadCommand(command: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolveRun) => {
    const child = spawn('/bin/sh', ['-c', command], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer) => (output = (output + chunk.toString('utf8')).slice(-2_000));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), RELOAD_TIMEOUT_MS);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolveRun({ code: null, output: err.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolveRun({ code, output: output.trim() });
    });
  });
}

export interface RenderSettings {
  client: V2Client;
  prefix: string;
  out: string;
  reloadCommand: string;
  log: Logger;
}

/** Keeps `settings.out` rendered from the registry until `signal` aborts. */
export async function watchAndRender(settings: RenderSettings, signal: AbortSignal): Promise<void> {
  const { client, prefix, out, log } = settings;
  let onDisk: string | null = await readFile(out, 'utf8').catch(() => null);

  const publish = async (registry: Registry, cause: string): Promise<void> => {
    const content = renderUpstreams(registry);
    if (content === onDisk) {
      log('unchanged', { cause, servers: describeRegistry(registry) });
      return;
    }
    await writeFileAtomically(out, content);
    onDisk = content;
    log('rendered', { cause, file: out, servers: describeRegistry(registry) });
    const reload = await runReloadCommand(settings.reloadCommand);
    log('reloaded', { code: reload.code, output: reload.output });
  };

  const warn = (warnings: string[]) => {
    for (const warning of warnings) log('skipped', { reason: warning });
  };

  while (!signal.aborted) {
    // Snapshot: everything under the prefix at one index.
    let registry: Registry;
    let waitIndex: number;
    try {
      const reply = await client.get(prefix, { recursive: true, quorum: true });
      const applied = registryFromSnapshot(prefix, reply.node);
      warn(applied.warnings);
      registry = applied.registry;
      waitIndex = reply.etcdIndex + 1;
    } catch (err) {
      if (err instanceof EtcdError && err.errorCode === EtcdErrorCode.KeyNotFound) {
        registry = new Map();
        waitIndex = err.index + 1;
      } else if (err instanceof EndpointsUnavailableError) {
        log('unavailable', { reason: err.message });
        await sleep(RETRY_PAUSE_MS, signal);
        continue;
      } else {
        throw err;
      }
    }
    log('snapshot', { index: waitIndex - 1, servers: describeRegistry(registry) });
    await publish(registry, 'snapshot');

    // Changes, one long poll each, from the index after the last one seen.
    while (!signal.aborted) {
      let event;
      try {
        event = await client.watch(prefix, { recursive: true, waitIndex, signal });
      } catch (err) {
        if (signal.aborted) return;
        if (err instanceof EtcdError && err.errorCode === EtcdErrorCode.EventIndexCleared) {
          log('history-cleared', { waitIndex, reason: err.etcdMessage, index: err.index });
          break;
        }
        if (err instanceof EndpointsUnavailableError) {
          log('unavailable', { reason: err.message });
          await sleep(RETRY_PAUSE_MS, signal);
          continue;
        }
        throw err;
      }
      const changeIndex = event.node.modifiedIndex;
      log('event', { action: event.action, key: event.node.key, index: changeIndex ?? null });
      if (changeIndex === undefined) break; // Not etcd's shape for a change; start over from a fresh read.
      const applied = applyEvent(prefix, registry, event);
      warn(applied.warnings);
      registry = applied.registry;
      waitIndex = changeIndex + 1;
      await publish(registry, `${event.action} ${event.node.key}`);
    }
  }
}

async function main(): Promise<number> {
  const { values, positionals } = parseFlags(process.argv.slice(2), {
    out: { type: 'string' },
    'reload-cmd': { type: 'string' },
    endpoints: { type: 'string' },
    prefix: { type: 'string' },
    log: { type: 'string' },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'; usage: ${RENDER_USAGE}`);
  if (values.out === undefined || values.out === '') throw new UsageError(`--out FILE is required; usage: ${RENDER_USAGE}`);
  const settings: RenderSettings = {
    client: new V2Client({ endpoints: resolveEndpoints(values.endpoints, process.env) }),
    prefix: parsePrefix(values.prefix ?? DEFAULT_PREFIX),
    out: values.out,
    reloadCommand: values['reload-cmd'] ?? DEFAULT_RELOAD_COMMAND,
    log: makeLogger('render-upstream', parseLogFormat(values.log)),
  };
  // Fail now, with one line, rather than at the first change: the file's directory must be writable.
  try {
    await writeFileAtomically(join(dirname(settings.out), `.render-upstream-probe-${process.pid}`), '');
    await rm(join(dirname(settings.out), `.render-upstream-probe-${process.pid}`), { force: true });
  } catch (err) {
    throw new UsageError(`cannot write next to --out ${settings.out}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const { stopped, controller } = untilStopSignal();
  const running = watchAndRender(settings, controller.signal);
  const signal = await Promise.race([stopped, running.then(() => stopped)]);
  await running;
  settings.log('stopped', { signal });
  return 0;
}

if (isMain(import.meta.url)) runMain('render-upstream', main);
