// One member in this process on loopback: the HTTP face (keys API with its headers, watches, members, stats),
// bad input of every kind answered in etcd's shape without harming the member, and a never-crash property over
// arbitrary requests, shown to catch a member that decodes paths carelessly.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EtcdMember, parseServeConfig, type MemberOptions } from '../../../net/server/index.ts';
import { withMutant, type Mutant } from '../../../sim/mutants/mutate.ts';
import { freeLoopbackPort } from '../../support/etcd.ts';
import { http, rawExchange, sleep, type HttpReply } from './helpers.ts';

type ServerModule = typeof import('../../../net/server/index.ts');

const dirs: string[] = [];
const members: EtcdMember[] = [];

async function startSingle(mod: ServerModule = { EtcdMember, parseServeConfig } as ServerModule, http: MemberOptions['http'] = {}): Promise<{ member: EtcdMember; url: string; port: number }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'raftsim-member-'));
  dirs.push(dataDir);
  const peer = `http://127.0.0.1:${await freeLoopbackPort()}`;
  const config = mod.parseServeConfig(
    [
      '--name=solo',
      `--data-dir=${dataDir}`,
      '--listen-client-urls=http://127.0.0.1:0',
      '--advertise-client-urls=http://127.0.0.1:2379',
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=solo=${peer}`,
      '--heartbeat-interval=20',
      '--election-timeout=200',
      '--max-request-bytes=65536',
    ],
    {},
  );
  const member = await mod.EtcdMember.start({ config, log: () => {}, http: { headersTimeoutMs: 400, requestTimeoutMs: 800, maxBodyBytes: 65536, ...http } });
  members.push(member);
  const url = member.clientUrls[0]!;
  for (let i = 0; i < 200; i++) {
    const health = await fetchHealth(url);
    if (health === 200) break;
    await sleep(20);
  }
  return { member, url, port: Number(new URL(url).port) };
}

async function fetchHealth(url: string): Promise<number> {
  return (await http(`${url}/health`, { timeoutMs: 1000 }).catch(() => ({ status: 0 }))).status;
}

let url = '';
let port = 0;

beforeAll(async () => {
  ({ url, port } = await startSingle());
});

afterAll(async () => {
  await Promise.all(members.map((m) => m.stop()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('keys API over HTTP', () => {
  it('answers a set and a get with etcd headers', async () => {
    const put = await http(`${url}/v2/keys/hello`, { method: 'PUT', body: 'value=world' });
    expect(put.status).toBe(201);
    expect(JSON.parse(put.body)).toMatchObject({ action: 'set', node: { key: '/hello', value: 'world' } });
    for (const h of ['x-etcd-index', 'x-raft-index', 'x-raft-term', 'x-etcd-cluster-id']) expect(put.headers[h], h).toBeDefined();
    const get = await http(`${url}/v2/keys/hello`);
    expect(get.status).toBe(200);
    expect(get.headers['x-etcd-index']).toBe(put.headers['x-etcd-index']);
    expect(JSON.parse(get.body).node.value).toBe('world');
  });

  it('holds a wait=true long poll open and answers it with the next write', async () => {
    const watch = http(`${url}/v2/keys/polled?wait=true`, { timeoutMs: 5000 });
    await sleep(100);
    await http(`${url}/v2/keys/polled`, { method: 'PUT', body: 'value=1' });
    const reply = await watch;
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toMatchObject({ action: 'set', node: { key: '/polled', value: '1' } });
  });

  it('streams watch events and unregisters the watch when the client leaves', async () => {
    const lines: string[] = [];
    const req = httpRequest({ host: '127.0.0.1', port, path: '/v2/keys/streamed?wait=true&stream=true', agent: false });
    const headers = new Promise<Record<string, unknown>>((resolve) => req.on('response', (res) => {
      res.setEncoding('utf8');
      res.on('data', (c: string) => lines.push(...c.split('\n').filter((l) => l !== '')));
      resolve(res.headers);
    }));
    req.on('error', () => {});
    req.end();
    expect((await headers)['x-etcd-index']).toBeDefined();
    await http(`${url}/v2/keys/streamed`, { method: 'PUT', body: 'value=a' });
    await http(`${url}/v2/keys/streamed`, { method: 'PUT', body: 'value=b' });
    for (let i = 0; i < 100 && lines.length < 2; i++) await sleep(20);
    expect(lines.map((l) => JSON.parse(l).node.value)).toEqual(['a', 'b']);
    const watching = JSON.parse((await http(`${url}/v2/stats/store`)).body).watchers;
    expect(watching).toBeGreaterThanOrEqual(1);
    req.destroy();
    for (let i = 0; i < 100; i++) {
      if (JSON.parse((await http(`${url}/v2/stats/store`)).body).watchers === watching - 1) break;
      await sleep(20);
    }
    expect(JSON.parse((await http(`${url}/v2/stats/store`)).body).watchers).toBe(watching - 1);
  });

  it('answers interleaved concurrent writes, quorum reads, plain reads and member lists each with its own result', async () => {
    // Writes and quorum reads that arrive while others are in progress wait for the end of the turn and go to the
    // replica as one batch; a plain read or member list arriving in the same turn must not overtake them (the
    // replica refuses request ids that go backwards). Warm keep-alive connections make the burst arrive at once.
    const agent = new Agent({ keepAlive: true, maxSockets: 90 });
    const send = (path: string, body?: string): Promise<HttpReply> =>
      new Promise((resolve, reject) => {
        const headers = body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(body.length) };
        const req = httpRequest({ host: '127.0.0.1', port, path, method: body === undefined ? 'GET' : 'PUT', agent, headers, timeout: 10_000 }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
        });
        req.on('timeout', () => req.destroy(new Error(`no reply to ${path}`)));
        req.on('error', reject);
        req.end(body);
      });
    try {
      await send('/v2/keys/batch/base', 'value=base');
      await Promise.all(Array.from({ length: 90 }, () => send('/version')));
      const puts: Array<Promise<HttpReply>> = [];
      const reads: Array<Promise<HttpReply>> = [];
      const lists: Array<Promise<HttpReply>> = [];
      for (let i = 0; i < 30; i++) {
        puts.push(send(`/v2/keys/batch/k${i}`, `value=v${i}`));
        reads.push(send(`/v2/keys/batch/base${i % 2 === 0 ? '?quorum=true' : ''}`));
        lists.push(send('/v2/members'));
      }
      const written = await Promise.all(puts);
      written.forEach((r, i) => {
        expect(r.status, r.body).toBe(201);
        expect(JSON.parse(r.body).node).toMatchObject({ key: `/batch/k${i}`, value: `v${i}` });
      });
      expect(new Set(written.map((r) => JSON.parse(r.body).node.modifiedIndex)).size).toBe(30);
      for (const r of await Promise.all(reads)) {
        expect(r.status, r.body).toBe(200);
        expect(JSON.parse(r.body).node.value).toBe('base');
      }
      for (const r of await Promise.all(lists)) expect(r.status).toBe(200);
    } finally {
      agent.destroy();
    }
  });

  it('serves members, stats, version, health and machines', async () => {
    const list = JSON.parse((await http(`${url}/v2/members`)).body);
    expect(list.members).toHaveLength(1);
    expect(list.members[0]).toMatchObject({ name: 'solo', clientURLs: ['http://127.0.0.1:2379'] });
    const self = JSON.parse((await http(`${url}/v2/stats/self`)).body);
    expect(self).toMatchObject({ name: 'solo', state: 'StateLeader' });
    expect(self.leaderInfo.leader).toBe(list.members[0].id);
    const leader = JSON.parse((await http(`${url}/v2/stats/leader`)).body);
    expect(leader).toEqual({ leader: list.members[0].id, followers: {} });
    expect(JSON.parse((await http(`${url}/v2/stats/store`)).body).setsSuccess).toBeGreaterThan(0);
    expect(JSON.parse((await http(`${url}/version`)).body).etcdserver).toMatch(/^3\.4\./);
    expect(JSON.parse((await http(`${url}/health`)).body)).toEqual({ health: 'true' });
    expect((await http(`${url}/v2/machines`)).body).toBe('http://127.0.0.1:2379');
    expect(JSON.parse((await http(`${url}/v2/members/leader`)).body).name).toBe('solo');
  });
});

/**
 * 24 header tricklers and 8 body tricklers each send a byte every 100 ms while an ordinary client has 20 writes
 * and reads served (each must succeed) and one client pipelines requests for a large value without reading.
 * Returns how many tricklers the server cut off with a 408 within `giveUpMs`.
 */
async function trickleWhileServing(base: string, clientPort: number, giveUpMs: number): Promise<{ cutOff: number; tricklers: number }> {
  const trickle = (head: string, then: string) =>
    new Promise<{ closedByServer: boolean; reply: string }>((resolve) => {
      const socket = connect(clientPort, '127.0.0.1');
      let reply = '';
      let sent = 0;
      const bytes = head + then;
      const timer = setInterval(() => {
        if (sent < bytes.length && socket.writable) socket.write(bytes[sent++]!);
      }, 100);
      const finish = (closedByServer: boolean) => {
        clearInterval(timer);
        clearTimeout(giveUp);
        socket.destroy();
        resolve({ closedByServer, reply });
      };
      // A safety net far beyond the 400 ms header and 800 ms request timeouts, so a loaded machine cannot flake.
      const giveUp = setTimeout(() => finish(false), giveUpMs);
      socket.on('close', () => finish(true));
      socket.on('error', () => finish(true));
      // Reading is what lets the client see the server's reply and its end of the connection.
      socket.on('data', (d: Buffer) => (reply += d.toString('latin1')));
    });
  const tricklers = [
    ...Array.from({ length: 24 }, () => trickle('GET /v2/keys/trickle HTTP/1.1\r\nHost: x\r\n', 'X-Slow: '.repeat(50))),
    ...Array.from({ length: 8 }, () => trickle('PUT /v2/keys/trickle HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n', 'value=' + 'z'.repeat(94))),
  ];
  await http(`${base}/v2/keys/unread`, { method: 'PUT', body: 'value=' + 'u'.repeat(60_000) });
  const stuck = connect(clientPort, '127.0.0.1');
  stuck.on('error', () => {});
  stuck.write('GET /v2/keys/unread HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(20));
  stuck.pause();
  try {
    for (let i = 0; i < 20; i++) {
      const put = await http(`${base}/v2/keys/busy`, { method: 'PUT', body: `value=${i}`, timeoutMs: 3000 });
      expect(put.status).toBeLessThan(300);
      expect(JSON.parse((await http(`${base}/v2/keys/busy`, { timeoutMs: 3000 })).body).node.value).toBe(String(i));
    }
    const outcomes = await Promise.all(tricklers);
    return { cutOff: outcomes.filter((o) => o.closedByServer && /^HTTP\/1\.1 408 /.test(o.reply)).length, tricklers: tricklers.length };
  } finally {
    stuck.destroy();
  }
}

describe('bad HTTP input gets etcd’s answer and harms nothing', () => {
  const cases: Array<{ what: string; path: string; method?: string; body?: string; headers?: Record<string, string>; status: number; errorCode?: number }> = [
    { what: 'undecodable path escape', path: '/v2/keys/%zz', status: 400 },
    { what: 'unclean path', path: '/v2/keys//a/../b', status: 301 },
    { what: 'unknown route', path: '/v3/nothing', status: 404 },
    { what: 'unknown method', path: '/v2/keys/a', method: 'PATCH', status: 405 },
    { what: 'TTL not a number', path: '/v2/keys/a', method: 'PUT', body: 'value=1&ttl=abc', status: 400, errorCode: 202 },
    { what: 'negative TTL', path: '/v2/keys/a', method: 'PUT', body: 'value=1&ttl=-5', status: 400, errorCode: 202 },
    { what: 'prevIndex not a number', path: '/v2/keys/a', method: 'PUT', body: 'value=1&prevIndex=x', status: 400, errorCode: 203 },
    { what: 'waitIndex past uint64', path: '/v2/keys/a?wait=true&waitIndex=99999999999999999999999', status: 400, errorCode: 203 },
    { what: 'invalid form body', path: '/v2/keys/a', method: 'PUT', body: 'value=%zz', status: 400, errorCode: 210 },
    { what: 'bad boolean', path: '/v2/keys/a?recursive=maybe', status: 400, errorCode: 209 },
    { what: 'member add with a non-JSON body', path: '/v2/members', method: 'POST', body: '{', headers: { 'content-type': 'application/json' }, status: 400 },
    { what: 'member add with a form body', path: '/v2/members', method: 'POST', body: 'a=b', status: 415 },
    { what: 'member add with a bad URL', path: '/v2/members', method: 'POST', body: '{"peerURLs":["nope"]}', headers: { 'content-type': 'application/json' }, status: 400 },
    { what: 'member remove of a malformed id', path: '/v2/members/zz!', method: 'DELETE', status: 404 },
    { what: 'leader stats method', path: '/v2/stats/leader', method: 'PUT', status: 405 },
  ];
  for (const c of cases) {
    it(c.what, async () => {
      const reply = await http(url + c.path, { method: c.method ?? 'GET', ...(c.body === undefined ? {} : { body: c.body }), ...(c.headers === undefined ? {} : { headers: c.headers }) });
      expect(reply.status).toBe(c.status);
      if (c.errorCode !== undefined) expect(JSON.parse(reply.body).errorCode).toBe(c.errorCode);
      expect(await fetchHealth(url)).toBe(200);
    });
  }

  it('refuses a body over the form limit (Go: 10 MiB, here 64 KiB) with 210 after reading it, keeping the connection', async () => {
    const head = 'PUT /v2/keys/big HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 70006\r\n\r\n';
    const { text, closedByServer } = await rawExchange(port, [head, 'value=' + 'x'.repeat(70_000)], { timeoutMs: 1500 });
    expect(text).toMatch(/^HTTP\/1\.1 400/);
    expect(text).toContain('"errorCode":210,"message":"Invalid POST form","cause":"http: POST too large"');
    expect(text).not.toMatch(/connection: close/i);
    expect(closedByServer).toBe(false);
    expect((await http(`${url}/v2/keys/big`)).status).toBe(404);
  });

  it('closes the connection after refusing a body far over the limit (more than 256 KiB to drain, as Go)', async () => {
    const head = 'PUT /v2/keys/big HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000006\r\n\r\n';
    const { text, closedByServer } = await rawExchange(port, [head, 'value=' + 'x'.repeat(1_000_000)], { timeoutMs: 3000 });
    expect(text).toMatch(/^HTTP\/1\.1 400/);
    expect(text).toMatch(/connection: close/i);
    expect(closedByServer).toBe(true);
    expect(await fetchHealth(url)).toBe(200);
  });

  it('refuses a chunked body that grows past the limit', async () => {
    const head = 'PUT /v2/keys/chunked HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n';
    const chunk = 'value=' + 'y'.repeat(40_000);
    const piece = `${chunk.length.toString(16)}\r\n${chunk}\r\n`;
    const { text } = await rawExchange(port, [head, piece, piece, piece, '0\r\n\r\n'], { timeoutMs: 3000 });
    expect(text).toMatch(/^HTTP\/1\.1 400/);
    expect(text).toContain('POST too large');
    expect(await fetchHealth(url)).toBe(200);
  });

  it('accepts a long key (100 KB), and answers 431 past Go’s 1 MiB header limit (etcd takes such keys on a reused connection only: docs/COMPATIBILITY.md)', async () => {
    const longKey = 'k'.repeat(100_000);
    expect((await http(`${url}/v2/keys/${longKey}`, { method: 'PUT', body: 'value=1' })).status).toBe(201);
    const { text } = await rawExchange(port, [`GET /v2/keys/${'k'.repeat(1_100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`], { timeoutMs: 5000 });
    expect(text).toMatch(/^HTTP\/1\.1 431/);
    expect(await fetchHealth(url)).toBe(200);
  });

  it('drops a client that sends its headers too slowly', async () => {
    const started = Date.now();
    const { text, closedByServer } = await rawExchange(port, ['GET /v2/keys/hello HTTP/1.1\r\n', 'Host: x\r\n', 'X-Slow: 1\r\n', 'X-Slow: 2\r\n', 'X-Slow: 3\r\n', '\r\n'], { pauseMs: 300, timeoutMs: 5000 });
    expect(closedByServer).toBe(true);
    expect(text).toMatch(/^HTTP\/1\.1 408/);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await fetchHealth(url)).toBe(200);
  });

  it('drops a client that sends its body too slowly', async () => {
    const head = 'PUT /v2/keys/slowbody HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 20\r\n\r\n';
    const { closedByServer } = await rawExchange(port, [head, 'val', 'ue=', 'abc', 'def', 'ghi', 'jkl'], { pauseMs: 300, timeoutMs: 5000 });
    expect(closedByServer).toBe(true);
    expect((await http(`${url}/v2/keys/slowbody`)).status).toBe(404);
  });

  it('is not held hostage by many clients trickling headers and bodies at once, nor by one that never reads', async () => {
    const { cutOff, tricklers } = await trickleWhileServing(url, port, 10_000);
    expect(cutOff).toBe(tricklers);
    expect((await http(`${url}/v2/keys/trickle`)).status).toBe(404);
    expect(await fetchHealth(url)).toBe(200);
  });

  const noTimeouts: Mutant = {
    name: 'server-without-header-and-request-timeouts',
    description: 'The client listener never times out a request that is still arriving (slowloris).',
    edits: [{ file: 'net/server/http.ts', find: '      headersTimeout: limits.headersTimeoutMs,\n      requestTimeout: limits.requestTimeoutMs,\n', replace: '      headersTimeout: 0,\n      requestTimeout: 0,\n' }],
  };

  it(`catches the mutant ${noTimeouts.name}: no trickler is cut off`, async () => {
    await withMutant<ServerModule, void>(noTimeouts, 'net/server/index.ts', async (mod) => {
      const mutant = await startSingle(mod);
      const { cutOff } = await trickleWhileServing(mutant.url, mutant.port, 2500);
      expect(cutOff).toBe(0);
    });
  });

  it('answers garbage on the socket with 400 and keeps serving', async () => {
    const { text } = await rawExchange(port, ['\x00\x01 not http at all\r\n\r\n'], { timeoutMs: 3000 });
    expect(text).toMatch(/^HTTP\/1\.1 400/);
    expect(await fetchHealth(url)).toBe(200);
  });
});

// ------------------------------------------------------------------------------------ never-crash property

const METHODS = ['GET', 'PUT', 'POST', 'DELETE', 'HEAD', 'PATCH', 'OPTIONS'];
const PATH_PIECES = ['/v2/keys', '/v2/keys/', '/a', '/%', '/%zz', '/%2F', '//', '/..', '/.', '/_hidden', '/v2/members', '/v2/stats/self', '/ü', '/%ff', '?'];
const QUERY_PIECES = ['wait=true', 'stream=true', 'recursive=1', 'ttl=', 'ttl=-1', 'ttl=x', 'prevIndex=1', 'waitIndex=%', 'dir=true', 'quorum=true', 'sorted=t', 'prevExist=false', 'value=%zz', '&&', '=', 'refresh=true'];

const requestArb = fc.record({
  method: fc.constantFrom(...METHODS),
  path: fc.array(fc.constantFrom(...PATH_PIECES), { minLength: 1, maxLength: 4 }).map((p) => (p[0]!.startsWith('/') ? '' : '/') + p.join('')),
  query: fc.array(fc.constantFrom(...QUERY_PIECES), { maxLength: 4 }).map((q) => q.join('&')),
  body: fc.oneof(fc.constant(''), fc.string({ maxLength: 40 }), fc.array(fc.constantFrom(...QUERY_PIECES), { maxLength: 4 }).map((q) => q.join('&'))),
});

/** Sends one arbitrary request; a watch that stays open is cut after a short while (that is not an error). */
async function sendArbitrary(base: string, r: { method: string; path: string; query: string; body: string }): Promise<number> {
  const target = base + r.path + (r.query === '' ? '' : (r.path.includes('?') ? '&' : '?') + r.query);
  try {
    return (await http(target, { method: r.method, body: r.body, timeoutMs: 300 })).status;
  } catch (err) {
    if (/no reply within/.test(String(err))) return -1;
    throw err;
  }
}

async function neverAnswers500(base: string, seed?: number): Promise<void> {
  await fc.assert(
    fc.asyncProperty(requestArb, async (r) => {
      const status = await sendArbitrary(base, r);
      // A long poll that did not fire is fine; an internal error (500) or a dead member is not.
      if (status === 500) throw new Error(`500 for ${r.method} ${r.path}?${r.query}`);
      if ((await fetchHealth(base)) !== 200) throw new Error(`member unhealthy after ${r.method} ${r.path}?${r.query}`);
    }),
    { numRuns: 200, ...(seed === undefined ? {} : { seed }) },
  );
}

describe('never-crash property', () => {
  it('every arbitrary request gets an etcd answer, never a 500, and the member stays healthy (200 cases)', async () => {
    await neverAnswers500(url);
  });

  const careless: Mutant = {
    name: 'server-decodes-path-with-decodeURIComponent',
    description: 'The HTTP layer decodes the raw path with decodeURIComponent, which throws on a bad escape.',
    edits: [{ file: 'net/server/http.ts', find: "const target = decodeUtf8Lossless(Buffer.from(req.url ?? '/', 'latin1'));", replace: "const target = decodeURIComponent(req.url ?? '/');" }],
  };

  it(`catches the mutant ${careless.name}`, async () => {
    await withMutant<ServerModule, void>(careless, 'net/server/index.ts', async (mod) => {
      const { url: mutantUrl } = await startSingle(mod);
      await expect(neverAnswers500(mutantUrl, 1)).rejects.toThrow(/Property failed[\s\S]*%/);
    });
  });
});
