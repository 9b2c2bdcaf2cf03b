import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsonControlCharsRaw } from '../../../sim/mutants/kv.ts';
import { withMutant } from '../../../sim/mutants/mutate.ts';
import { goJsonString, renderKeysResponse, renderStoreStats, replyOf, keysRequest } from '../../../core/api/index.ts';
import * as kv from '../../../core/kv/index.ts';
import type { StoreEvent } from '../../../core/kv/index.ts';

const T = Date.UTC(2026, 10, 25, 8, 0, 0);

function event(over: Partial<StoreEvent> = {}): StoreEvent {
  return {
    action: 'set',
    node: { key: '/k', value: 'v', dir: false, expiration: null, ttl: 0, nodes: null, modifiedIndex: 4, createdIndex: 4 },
    prevNode: null,
    etcdIndex: 4,
    refresh: false,
    ...over,
  };
}

describe('renderKeysResponse', () => {
  it('writes events in etcd\'s field order with empty fields left out, 201 for a new node', () => {
    const r = renderKeysResponse({ type: 'event', event: event(), method: 'PUT', noValueOnSuccess: false }, { clusterId: 'cdf818194e3a8c32', raftIndex: 9, raftTerm: 2 });
    expect(r).toEqual({
      status: 201,
      headers: { 'content-type': 'application/json', 'x-etcd-cluster-id': 'cdf818194e3a8c32', 'x-etcd-index': '4', 'x-raft-index': '9', 'x-raft-term': '2' },
      body: '{"action":"set","node":{"key":"/k","value":"v","modifiedIndex":4,"createdIndex":4}}\n',
    });
    const withTtl = event({
      node: { key: '/d', value: null, dir: true, expiration: T + 1500.25, ttl: 2, nodes: [event().node], modifiedIndex: 5, createdIndex: 3 },
      prevNode: { key: '/d', value: null, dir: true, expiration: null, ttl: 0, nodes: null, modifiedIndex: 3, createdIndex: 3 },
      action: 'update',
    });
    const r2 = renderKeysResponse({ type: 'event', event: withTtl, method: 'PUT', noValueOnSuccess: false });
    expect(r2.status).toBe(200);
    expect(r2.body).toBe(
      '{"action":"update","node":{"key":"/d","dir":true,"expiration":"2026-11-25T08:00:01.50025Z","ttl":2,"nodes":[{"key":"/k","value":"v","modifiedIndex":4,"createdIndex":4}],"modifiedIndex":5,"createdIndex":3},"prevNode":{"key":"/d","dir":true,"modifiedIndex":3,"createdIndex":3}}\n',
    );
  });

  it('prints an empty value, never a refresh flag, and drops nodes for noValueOnSuccess writes only', () => {
    const e = event({ node: { ...event().node, value: '' }, refresh: true });
    expect(renderKeysResponse({ type: 'event', event: e, method: 'PUT', noValueOnSuccess: false }).body).toBe('{"action":"set","node":{"key":"/k","value":"","modifiedIndex":4,"createdIndex":4}}\n');
    expect(renderKeysResponse({ type: 'event', event: e, method: 'PUT', noValueOnSuccess: true }).body).toBe('{"action":"set"}\n');
    const del = event({ action: 'delete' });
    expect(renderKeysResponse({ type: 'event', event: del, method: 'DELETE', noValueOnSuccess: true }).body).toContain('"node"');
  });

  it('maps every error code to etcd\'s status and prints index and cause', () => {
    const statuses: Record<number, number> = { 100: 404, 101: 412, 102: 403, 104: 400, 105: 412, 107: 400, 108: 403, 110: 401, 201: 400, 202: 400, 203: 400, 209: 400, 210: 400, 211: 400, 212: 400, 300: 500, 301: 500, 401: 400 };
    for (const [code, status] of Object.entries(statuses)) {
      const r = renderKeysResponse({ type: 'error', error: kv.etcdError(Number(code), 'c', 7) });
      expect([code, r.status, r.headers['x-etcd-index']]).toEqual([code, status, '7']);
    }
    expect(renderKeysResponse({ type: 'error', error: kv.etcdError(102, '', 3) }).body).toBe('{"errorCode":102,"message":"Not a file","index":3}\n');
  });

  it('renders HEAD with headers only, and watches with the registration index', () => {
    expect(renderKeysResponse({ type: 'error', error: kv.etcdError(100, '/x', 3) }, { method: 'HEAD' }).body).toBe('');
    const w = renderKeysResponse({ type: 'watch', startIndex: 2, events: [event({ action: 'create' }), event()] });
    expect([w.status, w.headers['x-etcd-index'], w.body.split('\n').length]).toEqual([200, '2', 3]);
  });

  it('escapes strings as Go does', () => {
    expect(goJsonString('a<b>&"\\\n\t\r\u0001\u2028\u2029é😀')).toBe('"a\\u003cb\\u003e\\u0026\\"\\\\\\n\\t\\r\\u0001\\u2028\\u2029é😀"');
    expect(goJsonString('lone \udcff byte')).toBe('"lone \\ufffd byte"');
  });

  it('builds replies from store results and renders store stats in etcd\'s order', () => {
    const s = kv.newStore();
    const req = keysRequest('PUT', '/k', { value: 'x' });
    const out = kv.applyCommand(s, { kind: 'request', request: req, timeMs: T });
    expect(renderKeysResponse(replyOf(req, out.result!)).status).toBe(201);
    const stats = renderStoreStats(kv.storeStats(s));
    expect(stats.body).toBe(
      '{"getsSuccess":0,"getsFail":0,"setsSuccess":1,"setsFail":0,"deleteSuccess":0,"deleteFail":0,"updateSuccess":0,"updateFail":0,"createSuccess":0,"createFail":0,"compareAndSwapSuccess":0,"compareAndSwapFail":0,"compareAndDeleteSuccess":0,"compareAndDeleteFail":0,"expireCount":0,"watchers":0}',
    );
  });
});

describe('Go-style JSON strings are valid JSON for any string', () => {
  // Lone surrogates stand for invalid bytes and deliberately print as \ufffd, so they are left out here.
  const wellFormed = fc.string({ unit: fc.oneof(fc.integer({ min: 0, max: 0x7f }), fc.integer({ min: 0, max: 0xd7ff }), fc.integer({ min: 0xe000, max: 0x10ffff })).map((c) => String.fromCodePoint(c)), maxLength: 40 });
  const roundTrips = (encode: (s: string) => string) =>
    fc.property(wellFormed, (s) => {
      if (JSON.parse(encode(s)) !== s) throw new Error(`${JSON.stringify(s)} did not survive`);
    });

  it('JSON.parse gives the string back', () => {
    fc.assert(roundTrips(goJsonString), { numRuns: 500 });
  });

  it('catches control characters written raw (mutant)', async () => {
    await withMutant(jsonControlCharsRaw, 'core/api/json.ts', (mod: { goJsonString: (s: string) => string }) => {
      expect(() => fc.assert(roundTrips(mod.goJsonString), { numRuns: 500, seed: 3 })).toThrow();
    });
  });
});
