// The demo's scenario, shared by demo.ts (which prints it) and the test (which asserts on it):
//
//   1. render-upstream starts and renders the (empty) registry;
//   2. instance web/a starts and registers itself, then web/b;
//   3. an old-style client rewrites web/a with the same value (no refresh flag): watchers wake, the rendered
//      file does not change, so nothing may reload;
//   4. web/b is killed with SIGKILL (no deregistration) and must vanish from the file within TTL + 1 s, while
//      web/a stays;
//   5. web/c starts and appears;
//   6. web/a is stopped with SIGTERM, deregisters, and vanishes at once.
//
// Every process logs JSON lines with wall-clock timestamps; the verdicts are computed from those logs after the
// run, so the scenario reports every broken expectation rather than stopping at the first.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_TTL_SECONDS } from './cli.ts';
import { REPO_ROOT, spawnExample, waitUntil, type Child, type LogLine } from './processes.ts';
import { encodeAddress, instanceKey } from './registration.ts';
import { V2Client } from './v2client.ts';

/** etcd v2 removes expired keys only on the leader's expiry tick, every 500 ms. */
export const EXPIRY_TICK_SLACK_MS = 500;
/**
 * How long a SIGKILLed instance may stay in the rendered file: the TTL plus one second, as the service-discovery
 * promise goes. Its last refresh came before the kill, so its key expires at most TTL after the kill; the
 * leader's next expiry tick removes it within 500 ms, which leaves at least 500 ms for the watch and the render.
 */
export const VANISH_BOUND_MS = DEFAULT_TTL_SECONDS * 1000 + 1000;

export interface ScenarioOptions {
  endpoints: string[];
  /** Key prefix for this run; distinct prefixes let several runs share one cluster. Default `/services`. */
  prefix?: string;
  /** Tree the example's programs are started from (a mutated copy in tests). Default: this repository. */
  root?: string;
  /** Bound on each step's wait (a registration to show up, a kill to take effect). Default 10 s. */
  stepTimeoutMs?: number;
  /** Progress lines for people, as they happen. */
  narrate?: (line: string) => void;
  /** Keep the work directory (rendered file, reload log) instead of removing it. */
  keepWorkDir?: boolean;
}

export interface ScenarioTimings {
  /** From the instance logging that it listens (just before it registers) to the file listing it. */
  registerToRenderMs: Record<string, number>;
  /** From SIGKILL of web/b to the file no longer listing it. */
  killToVanishMs: number | null;
  /** From SIGTERM of web/a to the file no longer listing it. */
  deregisterToVanishMs: number | null;
}

export interface ScenarioResult {
  violations: string[];
  timings: ScenarioTimings;
  /** Server lists of every rendered (changed) file, in order. */
  renders: string[][];
  /** Lines the reload command appended to its log: one per reload. */
  reloads: number;
  /** Watch events the renderer received, in order. */
  events: { action: string; key: string }[];
  /** The last rendered file. */
  finalFile: string;
  workDir: string;
}

const SERVICE = 'web';

export async function runScenario(options: ScenarioOptions): Promise<ScenarioResult> {
  const root = options.root ?? REPO_ROOT;
  const prefix = options.prefix ?? '/services';
  const stepTimeoutMs = options.stepTimeoutMs ?? 10_000;
  const narrate = options.narrate ?? (() => {});
  const endpoints = options.endpoints.join(',');
  const workDir = mkdtempSync(join(tmpdir(), 'service-discovery-'));
  const out = join(workDir, 'upstreams.conf');
  const reloadLog = join(workDir, 'reloads.log');
  const started = Date.now();
  const clock = () => `[${((Date.now() - started) / 1000).toFixed(2).padStart(6)} s]`;
  const say = (line: string) => narrate(`${clock()} ${line}`);
  const violations: string[] = [];
  const children: Child[] = [];
  const timings: ScenarioTimings = { registerToRenderMs: {}, killToVanishMs: null, deregisterToVanishMs: null };
  const keyOf = (instance: string) => instanceKey(prefix, SERVICE, instance);
  const common = ['--endpoints', endpoints, '--prefix', prefix, '--log', 'json'];

  const renderer = spawnExample(root, 'render-upstream.ts', [...common, '--out', out, '--reload-cmd', `echo reload >> '${reloadLog}'`], process.env);
  children.push(renderer);
  const rendered = () => renderer.lines.filter((l) => l.event === 'rendered');
  const lastRender = (): string[] | null => {
    const all = rendered();
    return all.length === 0 ? null : (all[all.length - 1]!.servers as string[]);
  };
  const renderIncludes = (name: string) => lastRender()?.includes(`${SERVICE}/${name}`) ?? false;
  /** The first render at or after `since` for which `test` holds, from the renderer's own log. */
  const renderTime = (since: number, test: (servers: string[]) => boolean) =>
    rendered().find((l) => l.at >= since && test(l.servers as string[]))?.at ?? null;

  const startInstance = (instance: string): Child => {
    const env = { ...process.env, SERVICE_NAME: SERVICE, SERVICE_HOST: '127.0.0.1', SERVICE_PORT: '0', SERVICE_INSTANCE: instance };
    const child = spawnExample(root, 'service.ts', common, env, `${SERVICE}/${instance}`);
    children.push(child);
    return child;
  };
  const firstLine = (child: Child, event: string) => child.lines.find((l) => l.event === event);

  /** Waits for `condition`; a timeout is a violation that ends the run (later steps would only pile on). */
  const step = async (what: string, condition: () => boolean, bound = stepTimeoutMs) => {
    if (await waitUntil(condition, bound)) return;
    const exitedEarly = children.filter((c) => !c.isRunning()).map((c) => `${c.name}: ${c.stderr().trim().split('\n').pop() ?? ''}`);
    throw new StepTimeout(`${what} did not happen within ${bound} ms${exitedEarly.length ? ` (exited: ${exitedEarly.join('; ')})` : ''}`);
  };

  let aStoppedAt = Infinity;
  let rewroteAt = Date.now();
  try {
    // 1. The watcher renders the empty registry.
    await step('the first render', () => rendered().length > 0 || renderer.lines.some((l) => l.event === 'unchanged'));
    say(`render-upstream is watching ${prefix}, rendering ${out}`);

    // 2. Two instances register themselves.
    for (const name of ['a', 'b']) {
      const instance = startInstance(name);
      await step(`${SERVICE}/${name} appearing in the file`, () => renderIncludes(name));
      const listened = firstLine(instance, 'listening');
      const appeared = renderTime(0, (s) => s.includes(`${SERVICE}/${name}`));
      if (listened !== undefined && appeared !== null) timings.registerToRenderMs[name] = appeared - listened.at;
      say(`${SERVICE}/${name} started (pid ${instance.pid}), registered itself and was rendered ${timings.registerToRenderMs[name] ?? '?'} ms after it listened`);
    }
    const [a, b] = [children[1]!, children[2]!];

    // 3. A same-value rewrite wakes the watcher but changes nothing on disk.
    const listening = firstLine(a, 'listening')!;
    const [host, port] = String(listening.address).split(':') as [string, string];
    const client = new V2Client({ endpoints: options.endpoints });
    const unchangedBefore = renderer.lines.filter((l) => l.event === 'unchanged').length;
    await client.set(keyOf('a'), { value: encodeAddress({ host, port: Number(port) }), ttl: DEFAULT_TTL_SECONDS });
    rewroteAt = Date.now();
    await step('the renderer noticing a same-value rewrite', () => renderer.lines.filter((l) => l.event === 'unchanged').length > unchangedBefore);
    say(`rewrote ${keyOf('a')} with its own value: the watcher woke, the file stayed the same, no reload`);

    // 4. SIGKILL: no deregistration, only the TTL removes web/b.
    const killedAt = Date.now();
    b.signal('SIGKILL');
    say(`SIGKILL ${SERVICE}/b (pid ${b.pid}): it cannot deregister, its key expires after ${DEFAULT_TTL_SECONDS} s without refreshes`);
    await step(`${SERVICE}/b vanishing after SIGKILL`, () => !renderIncludes('b'), VANISH_BOUND_MS + stepTimeoutMs);
    const vanishedAt = renderTime(killedAt, (s) => !s.includes(`${SERVICE}/b`));
    timings.killToVanishMs = vanishedAt === null ? null : vanishedAt - killedAt;
    say(`${SERVICE}/b left the file ${timings.killToVanishMs} ms after the kill (bound ${VANISH_BOUND_MS} ms = TTL + 1 s)`);
    if (timings.killToVanishMs === null || timings.killToVanishMs > VANISH_BOUND_MS) {
      violations.push(`${SERVICE}/b vanished ${timings.killToVanishMs} ms after SIGKILL, more than ${VANISH_BOUND_MS} ms`);
    }

    // 5. A new instance appears.
    const c = startInstance('c');
    await step(`${SERVICE}/c appearing in the file`, () => renderIncludes('c'));
    const cListened = firstLine(c, 'listening');
    const cAppeared = renderTime(0, (s) => s.includes(`${SERVICE}/c`));
    if (cListened !== undefined && cAppeared !== null) timings.registerToRenderMs.c = cAppeared - cListened.at;
    say(`${SERVICE}/c started (pid ${c.pid}), registered itself and was rendered ${timings.registerToRenderMs.c ?? '?'} ms after it listened`);

    // web/a must have outlived its TTL several times over for its survival to prove anything: without
    // refreshes its key would have expired by now (the same-value rewrite was its last write).
    const outliveTtlUntil = rewroteAt + DEFAULT_TTL_SECONDS * 1000 + 1000 + EXPIRY_TICK_SLACK_MS;
    if (Date.now() < outliveTtlUntil) {
      say(`letting ${SERVICE}/a live on refreshes alone for ${outliveTtlUntil - Date.now()} ms more`);
      await new Promise((r) => setTimeout(r, outliveTtlUntil - Date.now()));
    }

    // 6. SIGTERM: a clean shutdown deregisters at once.
    aStoppedAt = Date.now();
    a.signal('SIGTERM');
    await step(`${SERVICE}/a vanishing after SIGTERM`, () => !renderIncludes('a'));
    const aVanishedAt = renderTime(aStoppedAt, (s) => !s.includes(`${SERVICE}/a`));
    timings.deregisterToVanishMs = aVanishedAt === null ? null : aVanishedAt - aStoppedAt;
    const aExit = await a.exited;
    if (aExit.code !== 0) violations.push(`${SERVICE}/a exited with ${aExit.code ?? aExit.signal} on SIGTERM, expected 0`);
    if (firstLine(a, 'deregistered') === undefined) violations.push(`${SERVICE}/a did not log its deregistration`);
    say(`SIGTERM ${SERVICE}/a: it deregistered and left the file ${timings.deregisterToVanishMs} ms later`);
  } catch (err) {
    if (!(err instanceof StepTimeout)) throw err;
    violations.push(err.message);
  } finally {
    await Promise.all(children.map((c) => c.stop()));
  }

  // Verdicts from the logs.
  const renders = rendered().map((l) => l.servers as string[]);
  const events = renderer.lines.filter((l) => l.event === 'event').map((l) => ({ action: String(l.action), key: String(l.key) }));
  const reloads = readLines(reloadLog).length;
  const renderLines = rendered();

  // web/a must be in every render from its first appearance until it was told to stop.
  const aFirst = renderLines.findIndex((l) => (l.servers as string[]).includes(`${SERVICE}/a`));
  for (const line of renderLines.slice(Math.max(0, aFirst))) {
    if (aFirst >= 0 && line.at < aStoppedAt && !(line.servers as string[]).includes(`${SERVICE}/a`)) {
      violations.push(`${SERVICE}/a, alive and refreshing, vanished from a render at ${line.at - started} ms: ${JSON.stringify(line.servers)}`);
    }
  }
  // Refreshes must not wake the watcher: a's key sees its registration, the same-value rewrite and its
  // deregistration; b's its registration and its expiry. Anything more is a refresh that produced an event.
  const eventsFor = (name: string) => events.filter((e) => e.key === keyOf(name)).map((e) => e.action);
  const refreshes = (child: Child | undefined) => child?.lines.filter((l) => l.event === 'refreshed').length ?? 0;
  const aEvents = eventsFor('a');
  const bEvents = eventsFor('b');
  if (aEvents.length > 3) violations.push(`the watcher saw ${aEvents.length} events for ${SERVICE}/a (${aEvents.join(', ')}), expected 3: refreshes woke it`);
  if (bEvents.length > 2) violations.push(`the watcher saw ${bEvents.length} events for ${SERVICE}/b (${bEvents.join(', ')}), expected 2: refreshes woke it`);
  if (bEvents.length === 2 && bEvents[1] !== 'expire') violations.push(`${SERVICE}/b left by '${bEvents[1]}', expected 'expire' (SIGKILL cannot deregister)`);
  const aRefreshes = refreshes(children[1]);
  if (aRefreshes < 2) violations.push(`${SERVICE}/a refreshed its key ${aRefreshes} times, expected one per second`);
  // One reload per change of the file, and only then.
  const distinct = renders.every((servers, i) => i === 0 || JSON.stringify(servers) !== JSON.stringify(renders[i - 1]));
  if (!distinct) violations.push(`the file was rewritten without a change: ${JSON.stringify(renders)}`);
  if (reloads !== renders.length) violations.push(`the reload command ran ${reloads} times for ${renders.length} changes of the file`);
  const expected = [[], ['web/a'], ['web/a', 'web/b'], ['web/a'], ['web/a', 'web/c'], ['web/c']];
  if (violations.length === 0 && JSON.stringify(renders) !== JSON.stringify(expected)) {
    violations.push(`rendered ${JSON.stringify(renders)}, expected ${JSON.stringify(expected)}`);
  }

  let finalFile = '';
  try {
    finalFile = readFileSync(out, 'utf8');
  } catch {
    violations.push(`no rendered file at ${out}`);
  }
  if (!options.keepWorkDir) rmSync(workDir, { recursive: true, force: true });
  return { violations, timings, renders, reloads, events, finalFile, workDir };
}

class StepTimeout extends Error {}

function readLines(path: string): string[] {
  try {
    return readFileSync(path, 'utf8').split('\n').filter((l) => l !== '');
  } catch {
    return [];
  }
}

export type { LogLine };
