// How Jepsen mode reads the wire: each kind of HTTP answer (or its absence) becomes the outcome Jepsen's rules
// give it (ok / failed / indeterminate), keys travel under the run's namespace and come back without it.
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keysRequest } from '../../../core/api/index.ts';
import { decodeReply, encodeRequest, parseEndpointList, V2HttpClient, type Exchange } from '../../../net/jepsen/http.ts';
import { outcomeOf } from '../../../sim/clients/pool.ts';

const write = keysRequest('PUT', '/kv/1', { value: 'x', prevIndex: 7 });
const read = keysRequest('GET', '/kv/1', { quorum: true });
const json = { 'content-type': 'application/json', 'x-etcd-index': '12' };

/** The history outcome of an exchange, as the client pool records it. */
function outcome(x: Exchange): string {
  return x.kind === 'refused' ? 'fail (refused)' : outcomeOf(x.reply).result.outcome;
}

describe('encoding a keys request', () => {
  it('puts writes in a form body and reads in the query, under the namespace', () => {
    expect(encodeRequest(write, '/ns/run')).toEqual({ method: 'PUT', path: '/v2/keys/ns/run/kv/1', body: 'value=x&prevIndex=7' });
    expect(encodeRequest(read, '/ns')).toEqual({ method: 'GET', path: '/v2/keys/ns/kv/1?quorum=true', body: undefined });
    expect(encodeRequest(keysRequest('DELETE', '/q/00000000000000000009', { prevIndex: 9 }))).toEqual({ method: 'DELETE', path: '/v2/keys/q/00000000000000000009?prevIndex=9', body: undefined });
    expect(encodeRequest(keysRequest('PUT', '/k', { value: 'v', prevExist: false, prevValue: 'a b&c' })).body).toBe('value=v&prevValue=a+b%26c&prevExist=false');
    expect(encodeRequest(keysRequest('POST', '/queue', { value: 'job' }), '/ns').path).toBe('/v2/keys/ns/queue');
  });
});

describe('decoding a reply', () => {
  it('an event is ok, with the namespace taken off every key', () => {
    const body = '{"action":"get","node":{"key":"/ns/queue","dir":true,"nodes":[{"key":"/ns/queue/00000000000000000005","value":"a","modifiedIndex":5,"createdIndex":5}],"modifiedIndex":4,"createdIndex":4}}\n';
    const x = decodeReply(keysRequest('GET', '/queue', { quorum: true, sorted: true }), 200, json, body, '/ns');
    expect(outcome(x)).toBe('ok');
    const event = x.kind === 'reply' && x.reply.body.type === 'event' ? x.reply.body.event : null;
    expect(event?.etcdIndex).toBe(12);
    expect(event?.node.key).toBe('/queue');
    expect(event?.node.nodes?.map((n) => [n.key, n.value, n.createdIndex])).toEqual([['/queue/00000000000000000005', 'a', 5]]);
  });

  it('store errors are answers (ok); request errors failed; server errors failed when refused before proposing, else a write is indeterminate', () => {
    const error = (code: number, cause = '') => JSON.stringify({ errorCode: code, message: 'm', cause, index: 9 });
    expect(outcome(decodeReply(write, 412, json, error(101)))).toBe('ok');
    const compareFailed = decodeReply(write, 412, json, error(101));
    expect(compareFailed.kind === 'reply' && outcomeOf(compareFailed.reply).output).toEqual({ error: 101, index: 9 });
    expect(outcome(decodeReply(read, 404, json, error(100)))).toBe('ok');
    expect(outcome(decodeReply(write, 400, json, error(209)))).toBe('fail');
    expect(outcome(decodeReply(write, 500, json, error(300, 'etcdserver: no leader')))).toBe('fail');
    expect(outcome(decodeReply(write, 500, json, error(300, 'etcdserver: request timed out')))).toBe('info');
    expect(outcome(decodeReply(read, 500, json, error(300, 'etcdserver: request timed out')))).toBe('fail');
  });

  it('a body that is not etcd’s makes a write indeterminate and a read failed', () => {
    for (const [status, body] of [[502, '<html>bad gateway</html>'], [200, ''], [200, '{"action":"get"}'], [200, '[1,2]'], [200, '{"action":"fly","node":{}}']] as const) {
      expect(outcome(decodeReply(write, status, {}, body)), body).toBe('info');
      expect(outcome(decodeReply(read, status, {}, body)), body).toBe('fail');
    }
  });
});

describe('endpoint lists', () => {
  it('takes comma-separated base URLs and refuses anything else in one line', () => {
    expect(parseEndpointList('http://127.0.0.1:2379, http://127.0.0.1:22379/')).toEqual(['http://127.0.0.1:2379', 'http://127.0.0.1:22379']);
    expect(() => parseEndpointList(' , ')).toThrow(/^no endpoints given/);
  });
});

describe('sending', () => {
  let server: Server;
  let url = '';
  beforeAll(async () => {
    // Answers /v2/keys/fast at once and never answers anything else.
    server = createServer((req, res) => {
      if (req.url?.startsWith('/v2/keys/fast')) res.writeHead(200, json).end('{"action":"set","node":{"key":"/fast","value":"x","modifiedIndex":3,"createdIndex":3}}\n');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const a = server.address();
    url = `http://127.0.0.1:${typeof a === 'object' && a !== null ? a.port : 0}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('a refused connection is a sure failure; giving up on a write leaves it indeterminate', async () => {
    const client = new V2HttpClient();
    try {
      expect(outcome(await client.send(url, keysRequest('PUT', '/fast', { value: 'x' })))).toBe('ok');
      expect(await client.send('http://127.0.0.1:1', write)).toEqual({ kind: 'refused', reason: 'ECONNREFUSED' });
      const slow = await client.send(url, write, { timeoutMs: 100 });
      expect(outcome(slow)).toBe('info');
      expect(slow.kind === 'reply' && slow.reason).toBe('the client gave up');
      const controller = new AbortController();
      const pending = client.send(url, read, { signal: controller.signal });
      controller.abort();
      expect(outcome(await pending)).toBe('fail');
    } finally {
      client.close();
    }
  });
});
