// The service-discovery example (examples/service-discovery): its pure parts, its client's failover, bad input
// to each program, and the demo's scenario end to end against real etcd 3.4 and a raftsim cluster, with
// mutants showing that each expectation the scenario checks can fail.
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { materialize, type Mutant } from '../../sim/mutants/mutate.ts';
import { findEtcdBinary, freeLoopbackPort, startEtcd, type EtcdServer } from '../support/etcd.ts';
import { raftsimClusterAvailable, startRaftsimCluster, type LocalCluster } from '../../examples/service-discovery/local-cluster.ts';
import { REPO_ROOT, spawnExample, waitUntil } from '../../examples/service-discovery/processes.ts';
import { encodeAddress } from '../../examples/service-discovery/registration.ts';
import { parseTarget } from '../../examples/service-discovery/registrar.ts';
import {
  applyEvent,
  parseInstance,
  registryFromSnapshot,
  renderUpstreams,
  type Registry,
} from '../../examples/service-discovery/render-upstream.ts';
import { runScenario, VANISH_BOUND_MS, type ScenarioResult } from '../../examples/service-discovery/scenario.ts';
import {
  EndpointsUnavailableError,
  EtcdError,
  V2Client,
  keyPath,
  parseEndpoints,
  parseEtcdError,
} from '../../examples/service-discovery/v2client.ts';

let runCounter = 0;
const uniquePrefix = (label: string) => `/sd-${label}-${process.pid}-${Date.now() % 1_000_000}-${runCounter++}`;
const address = (host: string, port: number) => encodeAddress({ host, port });

describe('registry model and rendering', () => {
  const prefix = '/services';
  const snapshot = {
    key: '/services',
    dir: true,
    nodes: [
      {
        key: '/services/web',
        dir: true,
        nodes: [
          { key: '/services/web/b', value: address('127.0.0.1', 8082) },
          { key: '/services/web/a', value: address('127.0.0.1', 8081) },
        ],
      },
      { key: '/services/api', dir: true, nodes: [{ key: '/services/api/x', value: address('10.0.0.5', 9000) }] },
      { key: '/services/stray', value: 'not an instance (too shallow)' },
    ],
  };

  it('renders one upstream per service, sorted, from a recursive read', () => {
    const { registry, warnings } = registryFromSnapshot(prefix, snapshot);
    expect(warnings).toEqual([]);
    expect(renderUpstreams(registry)).toBe(
      [
        '# Rendered by render-upstream.ts from the service registry; local edits are overwritten.',
        '',
        'upstream api {',
        '    server 10.0.0.5:9000; # x',
        '}',
        '',
        'upstream web {',
        '    server 127.0.0.1:8081; # a',
        '    server 127.0.0.1:8082; # b',
        '}',
        '',
      ].join('\n'),
    );
    expect(renderUpstreams(new Map())).toContain('# No instances are registered.');
  });

  it('applies sets, deletes, expiries and directory removals', () => {
    let registry: Registry = registryFromSnapshot(prefix, snapshot).registry;
    registry = applyEvent(prefix, registry, { action: 'expire', node: { key: '/services/web/a' } }).registry;
    expect([...registry.keys()].sort()).toEqual(['/services/api/x', '/services/web/b']);
    registry = applyEvent(prefix, registry, { action: 'create', node: { key: '/services/web/c', value: address('127.0.0.1', 8083) } }).registry;
    expect(registry.get('/services/web/c')).toEqual({ service: 'web', instance: 'c', host: '127.0.0.1', port: 8083 });
    registry = applyEvent(prefix, registry, { action: 'delete', node: { key: '/services/web', dir: true } }).registry;
    expect([...registry.keys()]).toEqual(['/services/api/x']);
    // A refresh-like update with the same value leaves the rendering byte-identical.
    const before = renderUpstreams(registry);
    registry = applyEvent(prefix, registry, { action: 'update', node: { key: '/services/api/x', value: address('10.0.0.5', 9000) } }).registry;
    expect(renderUpstreams(registry)).toBe(before);
  });

  it('refuses registry entries that would inject nginx configuration, with a warning each', () => {
    expect(parseInstance(prefix, '/services/web/a', JSON.stringify({ host: '1.2.3.4; include /etc/passwd', port: 80 }))).toEqual({
      warning: '/services/web/a: value is not a valid {"host","port"} address',
    });
    expect(parseInstance(prefix, '/services/we b/a', address('1.2.3.4', 80))).toHaveProperty('warning');
    expect(parseInstance(prefix, '/services/web/a', '{not json')).toHaveProperty('warning');
    expect(parseInstance(prefix, '/services/web/a', JSON.stringify({ host: 'h', port: 70000 }))).toHaveProperty('warning');
    expect(parseInstance(prefix, '/other/web/a', address('h', 1))).toBeNull();
    // An instance overwritten with garbage drops out rather than keeping a stale address.
    const registry = registryFromSnapshot(prefix, snapshot).registry;
    const applied = applyEvent(prefix, registry, { action: 'set', node: { key: '/services/web/a', value: 'garbage' } });
    expect(applied.registry.has('/services/web/a')).toBe(false);
    expect(applied.warnings).toHaveLength(1);
  });
});

describe('v2 client pieces', () => {
  it('parses endpoint lists and refuses unusable ones in one line', () => {
    expect(parseEndpoints('http://127.0.0.1:2379/, http://localhost:22379')).toEqual(['http://127.0.0.1:2379', 'http://localhost:22379']);
    expect(() => parseEndpoints('')).toThrow(/^no endpoints given/);
    expect(() => parseEndpoints('127.0.0.1:2379')).toThrow(/is not a URL|must use http/);
    expect(() => parseEndpoints('https://127.0.0.1:2379')).toThrow(/must use http:\/\//);
    expect(() => parseEndpoints('http://127.0.0.1:2379/v2/keys')).toThrow(/without a path/);
  });

  it("reads etcd's error JSON and nothing else", () => {
    const error = parseEtcdError(404, '{"errorCode":100,"message":"Key not found","cause":"/x","index":7}');
    expect(error).toBeInstanceOf(EtcdError);
    expect([error?.errorCode, error?.errorCause, error?.index]).toEqual([100, '/x', 7]);
    expect(parseEtcdError(502, '<html>bad gateway</html>')).toBeNull();
    expect(parseEtcdError(404, '{"message":"no code"}')).toBeNull();
    expect(parseEtcdError(400, '{"errorCode":401,"message":"cleared"}', 12)?.index).toBe(12);
  });

  it('escapes key segments', () => {
    expect(keyPath('/services/web/a b')).toBe('/v2/keys/services/web/a%20b');
    expect(keyPath('/')).toBe('/v2/keys/');
  });
});

describe('v2 client failover against fake members', () => {
  const servers: Server[] = [];
  const listen = (handler: Parameters<typeof createServer>[1]): Promise<string> =>
    new Promise((resolveUrl) => {
      const server = createServer(handler);
      servers.push(server);
      server.listen(0, '127.0.0.1', () => {
        const a = server.address();
        resolveUrl(`http://127.0.0.1:${typeof a === 'object' && a !== null ? a.port : 0}`);
      });
    });
  afterAll(async () => {
    await Promise.all(servers.map((s) => new Promise((r) => (s.closeAllConnections(), s.close(r)))));
  });
  const reply = (status: number, body: unknown, index = 5) => (_: unknown, res: import('node:http').ServerResponse) =>
    res.writeHead(status, { 'content-type': 'application/json', 'x-etcd-index': String(index) }).end(JSON.stringify(body));
  const ok = reply(200, { action: 'get', node: { key: '/k', value: 'v', modifiedIndex: 3, createdIndex: 3 } });

  it('skips a refused, a 5xx and a hanging endpoint, then sticks to the one that answered', async () => {
    const dead = `http://127.0.0.1:${await freeLoopbackPort()}`;
    const unavailable = await listen(reply(503, { errorCode: 300, message: 'Raft Internal Error', index: 0 }));
    const hanging = await listen(() => {});
    const good = await listen(ok);
    const client = new V2Client({ endpoints: [dead, unavailable, hanging, good], requestTimeoutMs: 200 });
    const first = await client.get('/k');
    expect([first.endpoint, first.node.value, first.etcdIndex]).toEqual([good, 'v', 5]);
    expect(client.currentEndpoint).toBe(good);
    const started = Date.now();
    expect((await client.get('/k')).endpoint).toBe(good);
    expect(Date.now() - started).toBeLessThan(150); // the hanging endpoint is not retried first
  });

  it("returns etcd's own errors without trying elsewhere, and names every endpoint when none answers", async () => {
    let secondCalled = false;
    const notFound = await listen(reply(404, { errorCode: 100, message: 'Key not found', cause: '/k', index: 9 }));
    const second = await listen((req, res) => ((secondCalled = true), ok(req, res)));
    await expect(new V2Client({ endpoints: [notFound, second] }).get('/k')).rejects.toMatchObject({ errorCode: 100, index: 9 });
    expect(secondCalled).toBe(false);
    const dead = `http://127.0.0.1:${await freeLoopbackPort()}`;
    const garbage = await listen((_, res) => res.writeHead(200).end('<html>'));
    const error = await new V2Client({ endpoints: [dead, garbage] }).get('/k').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EndpointsUnavailableError);
    expect((error as Error).message).toBe(
      `no etcd endpoint answered: ${dead} (connection refused), ${garbage} (HTTP 200 with a body that is not a v2 reply)`,
    );
  });

  it('a watch fails over when its member dies mid-poll, and can be aborted', async () => {
    const dying = await listen((req) => setTimeout(() => req.socket.destroy(), 50));
    const good = await listen(reply(200, { action: 'set', node: { key: '/k', value: 'v', modifiedIndex: 11 } }, 4));
    const event = await new V2Client({ endpoints: [dying, good] }).watch('/k', { waitIndex: 10 });
    expect([event.endpoint, event.node.modifiedIndex]).toEqual([good, 11]);
    const hanging = await listen(() => {});
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    await expect(new V2Client({ endpoints: [hanging] }).watch('/k', { waitIndex: 1, signal: controller.signal })).rejects.toMatchObject({
      name: 'AbortError',
    });
  });
});

/** Runs one of the example's programs to completion (they are expected to exit quickly on bad input). */
async function runToExit(script: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawnExample(REPO_ROOT, script, args, { PATH: process.env.PATH, ...env });
  const timer = setTimeout(() => child.signal('SIGKILL'), 15_000);
  const exit = await child.exited;
  clearTimeout(timer);
  return { code: exit.code, stderr: child.stderr() };
}

describe('bad input: one line on stderr and exit 2', () => {
  const service = { SERVICE_NAME: 'web', SERVICE_HOST: '127.0.0.1', SERVICE_PORT: '8081' };
  const cases: [string, string, string[], NodeJS.ProcessEnv, RegExp][] = [
    ['register.ts', 'a missing SERVICE_PORT', [], { SERVICE_NAME: 'web', SERVICE_HOST: '127.0.0.1' }, /^register: SERVICE_PORT is not set \(/],
    ['register.ts', 'a missing SERVICE_NAME', [], { SERVICE_HOST: '127.0.0.1', SERVICE_PORT: '1' }, /^register: SERVICE_NAME is not set/],
    ['register.ts', 'a port that is not a number', [], { ...service, SERVICE_PORT: 'http' }, /^register: SERVICE_PORT must be a port number/],
    ['register.ts', 'a refresh slower than the TTL', ['--refresh-ms', '3000'], service, /must be shorter than --ttl/],
    ['register.ts', 'an unknown flag', ['--bogus'], service, /^register: Unknown option '--bogus'/],
    ['service.ts', 'a service name nginx cannot take', [], { ...service, SERVICE_NAME: 'we b' }, /^service: SERVICE_NAME must be letters/],
    ['render-upstream.ts', 'no --out', [], {}, /^render-upstream: --out FILE is required/],
    ['render-upstream.ts', 'an https endpoint', ['--out', '/tmp/x', '--endpoints', 'https://127.0.0.1:2379'], {}, /must use http:\/\//],
    ['render-upstream.ts', 'an unwritable --out', ['--out', '/nonexistent-dir/up.conf'], {}, /^render-upstream: cannot write next to --out/],
    ['render-upstream.ts', 'a relative prefix', ['--out', '/tmp/x', '--prefix', 'services'], {}, /--prefix must be an absolute key path/],
    ['registrar.ts', 'no --target', [], {}, /^registrar: at least one --target is required/],
    ['registrar.ts', 'a malformed --target', ['--target', 'web=127.0.0.1:80'], {}, /--target must look like SERVICE\/INSTANCE=/],
    ['demo.ts', 'a stray argument', ['now'], {}, /^demo: unexpected argument 'now'/],
  ];
  it.concurrent.each(cases)('%s with %s', async (script, _what, args, env, message) => {
    const { code, stderr } = await runToExit(script, args, env);
    expect(stderr).toMatch(message);
    expect(stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(code).toBe(2);
  });

  it('targets are parsed with their address', () => {
    expect(parseTarget('web/a=http://127.0.0.1:8081')).toEqual({ service: 'web', instance: 'a', url: 'http://127.0.0.1:8081', host: '127.0.0.1', port: 8081 });
    expect(() => parseTarget('web/a=http://127.0.0.1')).toThrow(/explicit port/);
  });
});

function expectScenarioHeld(result: ScenarioResult): void {
  expect(result.violations).toEqual([]);
  expect(result.timings.killToVanishMs).not.toBeNull();
  expect(result.timings.killToVanishMs!).toBeLessThanOrEqual(VANISH_BOUND_MS);
  expect(result.reloads).toBe(result.renders.length);
  expect(result.finalFile).toMatch(/upstream web \{\n {4}server 127\.0\.0\.1:\d+; # c\n\}/);
}

/**
 * A renderer whose watch index fell out of etcd's event history (1000 events): stopped with SIGSTOP while its
 * watch is answered, it wakes to a 401 on its next watch and must re-read and carry on.
 */
async function historyClearedCheck(root: string, endpoints: string[]): Promise<string[]> {
  const prefix = uniquePrefix('history');
  const dir = mkdtempSync(join(tmpdir(), 'sd-history-'));
  const renderer = spawnExample(root, 'render-upstream.ts', ['--endpoints', endpoints.join(','), '--prefix', prefix, '--log', 'json', '--out', join(dir, 'up.conf')], process.env);
  const client = new V2Client({ endpoints, requestTimeoutMs: 5_000 });
  const problems: string[] = [];
  try {
    if (!(await waitUntil(() => renderer.lines.some((l) => l.event === 'rendered'), 10_000))) return ['no first render'];
    renderer.signal('SIGSTOP');
    await client.set(`${prefix}/web/x`, { value: address('127.0.0.1', 1001) });
    const filler = `${prefix}-filler/k`;
    let written = 0;
    const deadline = Date.now() + 15_000;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (written < 1_100 && Date.now() < deadline) {
          written++;
          await client.set(filler, { value: String(written) });
        }
      }),
    );
    await client.set(`${prefix}/web/y`, { value: address('127.0.0.1', 1002) });
    renderer.signal('SIGCONT');
    const both = () => renderer.lines.some((l) => l.event === 'rendered' && JSON.stringify(l.servers) === '["web/x","web/y"]');
    if (!(await waitUntil(both, 5_000))) problems.push(`web/y never rendered after the history was cleared (wrote ${written} filler events)`);
    if (!renderer.lines.some((l) => l.event === 'history-cleared')) problems.push('no 401 "event index cleared" was seen');
  } finally {
    renderer.signal('SIGCONT');
    await renderer.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return problems;
}

/** Third-party registration: a healthy target is registered and refreshed; a dead one is removed before its TTL. */
async function registrarCheck(root: string, endpoints: string[]): Promise<string[]> {
  const prefix = uniquePrefix('registrar');
  const service = spawnExample(root, 'service.ts', ['--no-register', '--log', 'json', '--endpoints', endpoints.join(',')], {
    ...process.env,
    SERVICE_NAME: 'web',
    SERVICE_HOST: '127.0.0.1',
    SERVICE_PORT: '0',
  });
  const problems: string[] = [];
  let registrar: ReturnType<typeof spawnExample> | null = null;
  try {
    if (!(await waitUntil(() => service.lines.some((l) => l.event === 'listening'), 10_000))) return ['the service did not start'];
    const listened = String(service.lines.find((l) => l.event === 'listening')!.address);
    const ttl = 5;
    registrar = spawnExample(root, 'registrar.ts', ['--endpoints', endpoints.join(','), '--prefix', prefix, '--ttl', String(ttl), '--log', 'json', '--target', `web/r=http://${listened}`], process.env);
    const lines = registrar.lines;
    if (!(await waitUntil(() => lines.some((l) => l.event === 'refreshed'), 10_000))) return ['the registrar never registered and refreshed the target'];
    const client = new V2Client({ endpoints });
    const stored = await client.get(`${prefix}/web/r`);
    const [host, port] = listened.split(':');
    if (stored.node.value !== address(host!, Number(port))) problems.push(`registered value ${stored.node.value}`);
    if (stored.node.ttl === undefined || stored.node.ttl > ttl) problems.push(`registered without the TTL: ${JSON.stringify(stored.node)}`);
    const killedAt = Date.now();
    service.signal('SIGKILL');
    const removed = async () => (await client.get(`${prefix}/web/r`).then(() => false, (e: unknown) => e instanceof EtcdError && e.errorCode === 100));
    let gone = false;
    while (!gone && Date.now() - killedAt < (ttl + 2) * 1000) {
      gone = await removed();
      if (!gone) await new Promise((r) => setTimeout(r, 50));
    }
    const took = Date.now() - killedAt;
    // A failed health check removes the key within one check interval; the TTL alone would take >= 4 s here.
    if (!gone || took > 2_500) problems.push(`the dead target was removed ${took} ms after it died, expected within one check interval`);
  } finally {
    await Promise.all([service.stop(), registrar?.stop()]);
  }
  return problems;
}

const MUTANTS: Record<string, { mutant: Mutant; expect: RegExp }> = {
  refreshWithValue: {
    mutant: {
      name: 'sd-refresh-with-value',
      description: 'refreshes rewrite the value instead of using refresh=true, so every refresh wakes watchers',
      edits: [{ file: 'examples/service-discovery/registration.ts', find: 'reply = await client.set(key, { ttl: ttlSeconds, refresh: true, prevExist: true });', replace: 'reply = await client.set(key, { value, ttl: ttlSeconds });' }],
    },
    expect: /events for web\/a .*refreshes woke it/,
  },
  neverRefreshes: {
    mutant: {
      name: 'sd-never-refreshes',
      description: 'the refresh only reads the key, so a live instance expires',
      edits: [{ file: 'examples/service-discovery/registration.ts', find: 'reply = await client.set(key, { ttl: ttlSeconds, refresh: true, prevExist: true });', replace: 'reply = await client.get(key);' }],
    },
    expect: /web\/a, alive and refreshing, vanished/,
  },
  longTtl: {
    mutant: {
      name: 'sd-thirty-second-ttl',
      description: 'instances register with a 30 s TTL, so a killed one lingers',
      edits: [{ file: 'examples/service-discovery/cli.ts', find: 'export const DEFAULT_TTL_SECONDS = 3;', replace: 'export const DEFAULT_TTL_SECONDS = 30;' }],
    },
    expect: /web\/b vanishing after SIGKILL did not happen/,
  },
  reloadWithoutChange: {
    mutant: {
      name: 'sd-reload-without-change',
      description: 'the renderer rewrites the file and reloads on every event, changed or not',
      edits: [{ file: 'examples/service-discovery/render-upstream.ts', find: 'if (content === onDisk) {', replace: 'if (content === onDisk && cause === "snapshot") {' }],
    },
    expect: /the file was rewritten without a change/,
  },
};

const HISTORY_MUTANT: Mutant = {
  name: 'sd-401-retries-same-index',
  description: 'on 401 "event index cleared" the renderer retries the same index instead of re-reading',
  edits: [{ file: 'examples/service-discovery/render-upstream.ts', find: "log('history-cleared', { waitIndex, reason: err.etcdMessage, index: err.index });\n          break;", replace: "log('history-cleared', { waitIndex, reason: err.etcdMessage, index: err.index });\n          await sleep(50, signal);\n          continue;" }],
};

const REGISTRAR_MUTANT: Mutant = {
  name: 'sd-registrar-keeps-dead-targets',
  description: 'the registrar never removes a target that fails its health checks, leaving it to the TTL',
  edits: [{ file: 'examples/service-discovery/registrar.ts', find: 'if (state.failures >= settings.unhealthyAfter && state.registered) {', replace: 'if (false) {' }],
};

const MUTANT_DIRS = ['examples', 'bin'];

/** The end-to-end checks against one cluster, and each mutant caught by them. */
function endToEnd(endpointsOf: () => string[]) {
  it('the demo scenario holds: a killed instance expires in time, the live one stays, one reload per change', async () => {
    // A dead endpoint first: every program must fail over to the next one.
    const dead = `http://127.0.0.1:${await freeLoopbackPort()}`;
    const result = await runScenario({ endpoints: [dead, ...endpointsOf()], prefix: uniquePrefix('demo') });
    expectScenarioHeld(result);
  });

  it('a watcher whose index was cleared from the history re-reads and continues', async () => {
    expect(await historyClearedCheck(REPO_ROOT, endpointsOf())).toEqual([]);
  });

  it('the registrar registers a healthy target and removes it when its health check fails', async () => {
    expect(await registrarCheck(REPO_ROOT, endpointsOf())).toEqual([]);
  });
}

function mutantsCaught(endpointsOf: () => string[]) {
  for (const [label, { mutant, expect: expected }] of Object.entries(MUTANTS)) {
    it(`catches the ${mutant.name} mutant (${label})`, async () => {
      const copy = materialize(mutant, { dirs: MUTANT_DIRS });
      try {
        const result = await runScenario({ endpoints: endpointsOf(), prefix: uniquePrefix(label), root: copy.dir });
        expect(result.violations.join('\n')).toMatch(expected);
      } finally {
        copy.remove();
      }
    });
  }

  it(`catches the ${HISTORY_MUTANT.name} mutant`, async () => {
    const copy = materialize(HISTORY_MUTANT, { dirs: MUTANT_DIRS });
    try {
      expect((await historyClearedCheck(copy.dir, endpointsOf())).join('\n')).toMatch(/web\/y never rendered/);
    } finally {
      copy.remove();
    }
  });

  it(`catches the ${REGISTRAR_MUTANT.name} mutant`, async () => {
    const copy = materialize(REGISTRAR_MUTANT, { dirs: MUTANT_DIRS });
    try {
      expect((await registrarCheck(copy.dir, endpointsOf())).join('\n')).toMatch(/the dead target was removed/);
    } finally {
      copy.remove();
    }
  });
}

const etcdBin = findEtcdBinary();

describe.skipIf(etcdBin === null)('against real etcd 3.4', () => {
  let etcd: EtcdServer;
  beforeAll(async () => {
    etcd = await startEtcd({ name: 'service-discovery' });
  });
  afterAll(async () => {
    await etcd?.stop();
  });
  describe.concurrent('end to end', () => endToEnd(() => [etcd.clientUrl]));
  describe.concurrent('mutants', () => mutantsCaught(() => [etcd.clientUrl]));
});

describe.skipIf(!raftsimClusterAvailable())('against a 3-member raftsim cluster', () => {
  let cluster: LocalCluster;
  beforeAll(async () => {
    cluster = await startRaftsimCluster(3);
  });
  afterAll(async () => {
    await cluster?.stop();
  });
  describe.concurrent('end to end', () => endToEnd(() => cluster.endpoints));
});
