import { describe, expect, it } from 'vitest';
import { keysRequest, parseKeysRequest, renderKeysResponse, type HttpRequestInput, type KeysReply, type ParsedKeysRequest } from '../../../core/api/index.ts';
import { parseMediaType, parseQuery, unescape } from '../../../core/api/form.ts';

function parse(method: string, path: string, query = '', body = '', contentType: string | null = body ? 'application/x-www-form-urlencoded' : null) {
  const input: HttpRequestInput = { method, path, query, body, contentType };
  return parseKeysRequest(input);
}

function request(method: string, path: string, query = '', body = '', contentType?: string | null) {
  const p = parse(method, path, query, body, contentType);
  if (!p.ok) throw new Error(`expected a request, got ${JSON.stringify(p.reply)}`);
  return p.request;
}

/** The rendered rejection: [status, body]. */
function rejection(method: string, path: string, query = '', body = '', contentType?: string | null): [number, string] {
  const p = parse(method, path, query, body, contentType);
  if (p.ok) throw new Error(`expected a rejection, got ${JSON.stringify(p.request)}`);
  const r = renderKeysResponse(p.reply);
  return [r.status, r.body];
}

function rejected(p: ParsedKeysRequest): KeysReply {
  if (p.ok) throw new Error('expected a rejection');
  return p.reply;
}

const etcdError = (code: number, message: string, cause: string) => JSON.stringify({ errorCode: code, message, cause, index: 0 }) + '\n';

describe('parseKeysRequest: what a request means', () => {
  it('maps the path under /v2/keys to a cleaned store path, decoding %-escapes', () => {
    expect(request('GET', '/v2/keys').path).toBe('/');
    expect(request('GET', '/v2/keys/').path).toBe('/');
    expect(request('GET', '/v2/keys/a/b/').path).toBe('/a/b');
    expect(request('GET', '/v2/keys/sp%20ace/%C3%A9').path).toBe('/sp ace/é');
    expect(request('GET', '/v2/keys/a+b').path).toBe('/a+b');
  });

  it('reads parameters from the query and from a form body, the body first, the first of repeats winning', () => {
    expect(request('PUT', '/v2/keys/k', 'value=q', 'value=b').value).toBe('b');
    expect(request('PUT', '/v2/keys/k', 'value=q1&value=q2').value).toBe('q1');
    expect(request('PUT', '/v2/keys/k', 'value=a+b%26c').value).toBe('a b&c');
    expect(request('PUT', '/v2/keys/k', '', 'value=x', 'text/plain').value).toBe('');
    expect(request('PUT', '/v2/keys/k', '', 'value=x', 'application/x-www-form-urlencoded; charset=utf-8').value).toBe('x');
    expect(request('DELETE', '/v2/keys/k', '', 'prevValue=x').prevValue).toBe('');
  });

  it('accepts Go booleans and unsigned integers only', () => {
    for (const yes of ['1', 't', 'T', 'TRUE', 'true', 'True']) expect(request('GET', '/v2/keys/d', `recursive=${yes}`).recursive).toBe(true);
    for (const no of ['0', 'f', 'F', 'FALSE', 'false', 'False']) expect(request('GET', '/v2/keys/d', `recursive=${no}`).recursive).toBe(false);
    expect(request('PUT', '/v2/keys/k', 'prevIndex=0007').prevIndex).toBe(7);
    expect(request('PUT', '/v2/keys/k', 'prevIndex=18446744073709551615').prevIndex).toBeGreaterThan(1e19);
  });

  it('fills every field etcd passes on', () => {
    const r = request('PUT', '/v2/keys/k', 'ttl=5&prevExist=false&prevValue=a&prevIndex=3&dir=true&quorum=1&noValueOnSuccess=true&sorted=1&refresh=false', 'value=v');
    expect(r).toEqual(keysRequest('PUT', '/k', { value: 'v', ttlSeconds: 5, prevExist: false, prevValue: 'a', prevIndex: 3, dir: true, quorum: true, noValueOnSuccess: true, sorted: true }));
    const w = request('GET', '/v2/keys/k', 'wait=true&waitIndex=9&recursive=true&stream=true');
    expect([w.wait, w.waitIndex, w.recursive, w.stream]).toEqual([true, 9, true, true]);
    expect(request('PUT', '/v2/keys/k', 'ttl=').ttlSeconds).toBe(null);
    expect(request('PUT', '/v2/keys/k', 'refresh=true&ttl=3&value=').refresh).toBe(true);
  });
});

describe('parseKeysRequest: bad input gets etcd\'s error, never a crash', () => {
  const cases: Array<[string, string, string, string, [number, string]]> = [
    ['bad prevIndex', 'PUT', 'prevIndex=x', '', [400, etcdError(203, 'The given index in POST form is not a number', 'invalid value for "prevIndex"')]],
    ['negative prevIndex', 'PUT', 'prevIndex=-1', '', [400, etcdError(203, 'The given index in POST form is not a number', 'invalid value for "prevIndex"')]],
    ['prevIndex past uint64', 'PUT', 'prevIndex=18446744073709551616', '', [400, etcdError(203, 'The given index in POST form is not a number', 'invalid value for "prevIndex"')]],
    ['bad waitIndex', 'GET', 'wait=true&waitIndex=', '', [400, etcdError(203, 'The given index in POST form is not a number', 'invalid value for "waitIndex"')]],
    ['bad recursive', 'GET', 'recursive=yes', '', [400, etcdError(209, 'Invalid field', 'invalid value for "recursive"')]],
    ['bare sorted', 'GET', 'sorted', '', [400, etcdError(209, 'Invalid field', 'invalid value for "sorted"')]],
    ['bad wait', 'GET', 'wait=2', '', [400, etcdError(209, 'Invalid field', 'invalid value for "wait"')]],
    ['bad dir', 'PUT', 'dir=on', '', [400, etcdError(209, 'Invalid field', 'invalid value for "dir"')]],
    ['bad quorum', 'GET', 'quorum=no', '', [400, etcdError(209, 'Invalid field', 'invalid value for "quorum"')]],
    ['bad stream', 'GET', 'stream=x', '', [400, etcdError(209, 'Invalid field', 'invalid value for "stream"')]],
    ['wait on PUT', 'PUT', 'wait=true', '', [400, etcdError(209, 'Invalid field', '"wait" can only be used with GET requests')]],
    ['empty prevValue', 'PUT', 'prevValue=', '', [400, etcdError(201, 'PrevValue is Required in POST form', '"prevValue" cannot be empty')]],
    ['bad noValueOnSuccess', 'PUT', 'noValueOnSuccess=x', '', [400, etcdError(209, 'Invalid field', 'invalid value for "noValueOnSuccess"')]],
    ['bad ttl', 'PUT', 'ttl=abc', '', [400, etcdError(202, 'The given TTL in POST form is not a number', 'invalid value for "ttl"')]],
    ['negative ttl', 'PUT', 'ttl=-1', '', [400, etcdError(202, 'The given TTL in POST form is not a number', 'invalid value for "ttl"')]],
    ['bad prevExist', 'PUT', 'prevExist=maybe', '', [400, etcdError(209, 'Invalid field', 'invalid value for prevExist')]],
    ['bad refresh', 'PUT', 'refresh=x', '', [400, etcdError(209, 'Invalid field', 'invalid value for refresh')]],
    ['refresh with a value', 'PUT', 'refresh=true&ttl=5', 'value=x', [400, etcdError(211, 'Value provided on refresh', 'A value was provided on a refresh')]],
    ['refresh without ttl', 'PUT', 'refresh=true', '', [400, etcdError(212, 'A TTL must be provided on refresh', 'No TTL value set')]],
    ['bad escape in query', 'GET', 'value=%zz', '', [400, etcdError(210, 'Invalid POST form', 'invalid URL escape "%zz"')]],
    ['truncated escape', 'GET', 'a=%4', '', [400, etcdError(210, 'Invalid POST form', 'invalid URL escape "%4"')]],
    ['semicolon in query', 'GET', 'a=1;b=2', '', [400, etcdError(210, 'Invalid POST form', 'invalid semicolon separator in query')]],
    ['bad escape in body', 'PUT', '', 'value=%', [400, etcdError(210, 'Invalid POST form', 'invalid URL escape "%"')]],
  ];
  for (const [name, method, query, body, want] of cases) {
    it(name, () => expect(rejection(method, '/v2/keys/k', query, body)).toEqual(want));
  }

  it('checks fields in etcd\'s order: indexes before booleans before ttl', () => {
    expect(rejection('PUT', '/v2/keys/k', 'ttl=x&recursive=x&prevIndex=x')[1]).toContain('invalid value for \\"prevIndex');
    expect(rejection('PUT', '/v2/keys/k', 'ttl=x&recursive=x')[1]).toContain('invalid value for \\"recursive');
  });

  it('rejects unparsable content types as an invalid form', () => {
    expect(rejection('PUT', '/v2/keys/k', '', 'value=x', '/json')).toEqual([400, etcdError(210, 'Invalid POST form', 'mime: no media type')]);
    expect(rejection('PUT', '/v2/keys/k', '', 'value=x', 'text/')).toEqual([400, etcdError(210, 'Invalid POST form', 'mime: expected token after slash')]);
    expect(rejection('PUT', '/v2/keys/k', '', 'value=x', 'text/plain; =x')).toEqual([400, etcdError(210, 'Invalid POST form', 'mime: invalid media parameter')]);
  });

  it('answers as Go\'s HTTP server does before etcd sees the request', () => {
    expect(rejection('PATCH', '/v2/keys/k')).toEqual([405, 'Method Not Allowed\n']);
    expect(renderKeysResponse(rejected(parse('PATCH', '/v2/keys/k'))).headers.allow).toBe('HEAD,GET,PUT,POST,DELETE');
    expect(rejection('GET', '/v2/keysfoo')).toEqual([404, '404 page not found\n']);
    expect(rejection('GET', '/v2/keys/%zz')).toEqual([400, '400 Bad Request']);
    expect(rejection('GET', '/v2/keys//foo', 'a=1')).toEqual([301, '<a href="/v2/keys/foo?a=1">Moved Permanently</a>.\n\n']);
    expect(rejection('PUT', '/v2/keys/a/./b')).toEqual([301, '']);
    expect(renderKeysResponse(rejected(parse('PUT', '/v2/keys/a/./b'))).headers.location).toBe('/v2/keys/a/b');
    expect(rejection('OPTIONS', '/anything')).toEqual([200, '']);
  });
});

describe('form helpers', () => {
  it('unescape decodes bytes as UTF-8, replacing invalid sequences', () => {
    expect(unescape('%e2%82%ac', true)).toEqual({ ok: true, text: '€' });
    expect(unescape('%ff', true)).toEqual({ ok: true, text: '\udcff' });
    expect(unescape('%e2%82A%ef%bf%bd', true)).toEqual({ ok: true, text: '\udce2\udc82A\ufffd' });
    expect(unescape('%ed%a0%80%f0%9f%98%80', true)).toEqual({ ok: true, text: '\udced\udca0\udc80😀' });
    expect(unescape('a+b', false)).toEqual({ ok: true, text: 'a+b' });
  });

  it('parseQuery keeps the good pairs and reports the first error', () => {
    const r = parseQuery('a=1&b=%zz&&c&a=2');
    expect([...r.values.entries()]).toEqual([['a', ['1', '2']], ['c', ['']]]);
    expect(r.error).toBe('invalid URL escape "%zz"');
  });

  it('parseMediaType lower-cases and checks the shape', () => {
    expect(parseMediaType('Application/X-WWW-Form-Urlencoded; charset="utf-8"')).toEqual({ mediaType: 'application/x-www-form-urlencoded' });
    expect(parseMediaType('text')).toEqual({ mediaType: 'text' });
    expect(parseMediaType('text/plain extra')).toEqual({ error: 'mime: unexpected content after media subtype' });
    expect(parseMediaType('te(xt')).toEqual({ error: 'mime: expected slash after first token' });
    expect(parseMediaType('a/b; x=1; x=2')).toEqual({ error: 'mime: duplicate parameter name' });
  });
});
