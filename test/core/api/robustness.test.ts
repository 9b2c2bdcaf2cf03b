import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as realApi from '../../../core/api/index.ts';
import * as realKv from '../../../core/kv/index.ts';
import { uintParseUnguarded } from '../../../sim/mutants/kv.ts';
import { withMutant } from '../../../sim/mutants/mutate.ts';

type Api = typeof realApi;
type Kv = typeof realKv;

// Bad input must get an answer (etcd's error shape or Go's plain reply), never an exception.
const chars = fc.constantFrom('a', 'b', '_', '/', '.', '%', '2', 'F', 'z', '+', '=', '&', ';', ' ', 'é', '<', '"', '0', '9', '-');
const junk = fc.string({ unit: chars, maxLength: 24 });
const params = ['value', 'ttl', 'prevIndex', 'waitIndex', 'prevValue', 'prevExist', 'dir', 'recursive', 'sorted', 'wait', 'quorum', 'stream', 'refresh', 'noValueOnSuccess'];
const safeChars = fc.constantFrom('a', 'b', '_', '.', '2', 'z', '-', 'é', '<', '0');
const longJunk = fc.string({ unit: safeChars, minLength: 16, maxLength: 30 });
const safePath = fc.array(fc.string({ unit: safeChars, minLength: 1, maxLength: 4 }), { maxLength: 3 }).map((parts) => '/v2/keys/' + parts.join('/'));
const pair = fc.tuple(fc.oneof(fc.constantFrom(...params), junk), fc.oneof(junk, longJunk, fc.constantFrom('true', '1', '0', '5', '')));
const form = fc.array(pair, { maxLength: 6 }).map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join('&'));
const httpRequest = fc.record({
  method: fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom('GET', 'PUT', 'POST', 'DELETE', 'HEAD') },
    { weight: 1, arbitrary: fc.oneof(fc.constantFrom('PATCH', 'OPTIONS'), fc.string({ maxLength: 6 })) },
  ),
  path: fc.oneof({ weight: 4, arbitrary: safePath }, { weight: 1, arbitrary: fc.oneof(junk.map((p) => '/v2/keys/' + p), junk.map((p) => '/' + p)) }),
  query: form,
  body: form,
  contentType: fc.oneof(fc.constant(null), fc.constantFrom('application/x-www-form-urlencoded', 'text/plain', 'application/x-www-form-urlencoded; charset=utf-8'), junk),
});

function roundTrip(api: Api, kv: Kv, store: realKv.KvStore, input: realApi.HttpRequestInput): void {
  const parsed = api.parseKeysRequest(input);
  let response: realApi.HttpResponse;
  if (!parsed.ok) {
    response = api.renderKeysResponse(parsed.reply, { method: input.method });
  } else if (kv.isWatchRequest(parsed.request)) {
    const w = kv.watch(store, parsed.request.path, parsed.request.recursive, parsed.request.stream, parsed.request.waitIndex);
    if (w.kind === 'registered') kv.unwatch(store, w.watchId, parsed.request.path);
    response = api.renderKeysResponse(w.kind === 'error' ? { type: 'error', error: w.error } : { type: 'watch', startIndex: w.startIndex, events: w.kind === 'event' ? [w.event] : [] });
  } else {
    const out = kv.applyCommand(store, { kind: 'request', request: parsed.request, timeMs: Date.UTC(2026, 0, 1) });
    response = api.renderKeysResponse(api.replyOf(parsed.request, out.result!), { method: input.method });
  }
  if (!Number.isInteger(response.status) || response.status < 200 || response.status > 599) throw new Error(`bad status ${response.status}`);
  if (response.headers['content-type'] === 'application/json' && response.body !== '') {
    for (const line of response.body.trimEnd().split('\n')) JSON.parse(line);
  }
}

function property(api: Api, kv: Kv) {
  return fc.property(fc.array(httpRequest, { minLength: 1, maxLength: 20 }), (inputs) => {
    const store = kv.newStore();
    for (const input of inputs) roundTrip(api, kv, store, input);
  });
}

describe('the keys API never crashes on bad input', () => {
  it('every random request gets a reply with a valid status and, when JSON, valid JSON', () => {
    fc.assert(property(realApi, realKv), { numRuns: 300 });
  });

  it('the property catches a parser that throws on long junk (mutant)', async () => {
    await withMutant(uintParseUnguarded, 'core/api/index.ts', async (api: Api) => {
      expect(() => fc.assert(property(api, realKv), { numRuns: 300, seed: 7 })).toThrow();
    });
  });
});
