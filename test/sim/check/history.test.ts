import { describe, expect, it } from 'vitest';
import { FormatError, parseJepsenEtcd, parsePorcupineKv, parseRaftsim, parseRaftsimFile, serializeRaftsim } from '../../../sim/check/formats.ts';
import { HistoryRecorder, type EtcdInput, type EtcdOutput } from '../../../sim/check/history.ts';
import { checkHistory } from '../../../sim/check/linearizability.ts';

describe('HistoryRecorder', () => {
  it('records invoke/complete pairs and turns outstanding operations into indeterminate ones', () => {
    const rec = new HistoryRecorder<EtcdInput, EtcdOutput>('etcd');
    const a = rec.invoke(1, '/a', { f: 'set', value: 'x' }, 0, { member: 2 });
    const b = rec.invoke(2, '/a', { f: 'get' }, 1);
    rec.complete(a, 'ok', { index: 3 }, 4, { raftIndex: 7 });
    const h = rec.history(10);
    expect(h.model).toBe('etcd');
    expect(h.ops[a]).toEqual({ id: a, client: 1, key: '/a', input: { f: 'set', value: 'x' }, output: { index: 3 }, outcome: 'ok', call: 0, ret: 4, meta: { member: 2, raftIndex: 7 } });
    expect(h.ops[b]).toMatchObject({ outcome: 'info', output: null, call: 1, ret: 10 });
    expect(checkHistory(h).verdict).toBe('linearizable');
  });

  it('refuses a second outstanding operation per client and a completion before its invocation', () => {
    const rec = new HistoryRecorder('kv');
    const id = rec.invoke(1, 'k', { f: 'get' }, 5);
    expect(() => rec.invoke(1, 'k', { f: 'get' }, 6)).toThrow(/client 1 invoked while operation 0 is outstanding/);
    expect(() => rec.complete(id, 'ok', '', 4)).toThrow(/completes at 4, before its invocation at 5/);
    rec.complete(id, 'fail', 'ignored', 7);
    expect(rec.history(8).ops[0]).toMatchObject({ outcome: 'fail', output: null });
    expect(() => rec.complete(id, 'ok', '', 9)).toThrow(/operation 0 is not outstanding/);
  });

  it('round-trips through the raftsim format', () => {
    const rec = new HistoryRecorder<EtcdInput, EtcdOutput>('etcd');
    rec.complete(rec.invoke(1, '/a', { f: 'set', value: 'x', ttl: 3 }, 0), 'ok', { index: 3 }, 4);
    rec.complete(rec.invoke(1, '/a', { f: 'cas', value: 'y', prevIndex: 3 }, 5), 'ok', { error: 101, index: 4 }, 6);
    rec.invoke(2, '/b', { f: 'delete' }, 7);
    const h = rec.history(20);
    expect(parseRaftsim(serializeRaftsim(h))).toEqual(h);
    const extra = {
      raft: {
        samples: [{ node: 1, time: 2, role: 'leader' as const, term: 1, commitIndex: 1, lastIndex: 1, applied: 1, log: { from: 1, entries: [[1, 'x'] as [number, string]] }, event: 'restart' as const }],
        acked: [{ op: 0, time: 4, raftIndex: 1, raftTerm: 1, digest: 'x' }],
      },
      events: [{ index: 3, key: '/a', action: 'set', value: 'x' }],
      watches: [{ watcher: 1, key: '/a', recursive: true, waitIndex: 3, stream: false, received: [{ index: 3, key: '/a', action: 'set', value: 'x', time: 5 }], drainedThrough: 3 }],
      ttl: { expiryTickMs: 500, clockErrorMs: 50 },
      watchHistoryCapacity: 10,
    };
    const file = parseRaftsimFile(serializeRaftsim(h, extra));
    expect(file.history).toEqual(h);
    expect(file.raft).toEqual(extra.raft);
    expect(file.events).toEqual(extra.events);
    expect(file.watches).toEqual(extra.watches);
    expect(file.ttl).toEqual(extra.ttl);
    expect(file.watchHistoryCapacity).toBe(10);
  });
});

describe('parsers', () => {
  it("reads Jepsen's etcd log lines, including failed cas, failed reads and timeouts", () => {
    const h = parseJepsenEtcd(
      [
        'INFO  jepsen.util - 0\t:invoke\t:cas\t[3 0]',
        'INFO  jepsen.util - 1\t:invoke\t:read\tnil',
        'INFO  jepsen.util - 0\t:fail\t:cas\t[3 0]',
        'INFO  jepsen.util - 1\t:fail\t:read\t:timed-out',
        'INFO  jepsen.util - 2  :invoke  :write  4',
        'INFO  jepsen.util - 2  :info  :write  :timed-out',
        'INFO  jepsen.util - 3\t:invoke\t:read\tnil',
        'INFO  jepsen.util - 3\t:ok\t:read\tnil',
        '',
      ].join('\n'),
    );
    expect(h.ops.map((o) => [o.input, o.outcome, o.output, o.call, o.ret])).toEqual([
      [{ f: 'cas', from: 3, to: 0 }, 'ok', false, 1, 3],
      [{ f: 'read' }, 'fail', null, 2, 4],
      [{ f: 'write', value: 4 }, 'info', null, 5, 6],
      [{ f: 'read' }, 'ok', 'nil', 7, 8],
    ]);
  });

  it("reads Porcupine's EDN maps, with nil and escaped strings", () => {
    const h = parsePorcupineKv('{:process 0, :type :invoke, :f :get, :key "a\\"b", :value nil}\n{:process 0, :type :ok, :f :get, :key "a\\"b", :value ""}\n{:process 1, :type :invoke, :f :append, :key "k", :value "x 1 y"}\n');
    expect(h.ops).toEqual([
      { id: 0, client: 0, key: 'a"b', input: { f: 'get' }, output: '', outcome: 'ok', call: 1, ret: 2 },
      { id: 1, client: 1, key: 'k', input: { f: 'append', value: 'x 1 y' }, output: null, outcome: 'info', call: 3, ret: 5 },
    ]);
  });

  const rejects = (fn: () => unknown, line: number, reason: RegExp) => {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(FormatError);
      expect((err as FormatError).line).toBe(line);
      expect((err as FormatError).reason).toMatch(reason);
      return;
    }
    throw new Error('expected a FormatError');
  };

  it('names the line of each kind of bad input', () => {
    rejects(() => parseJepsenEtcd('INFO  jepsen.util - 0\t:ok\t:read\t1\n'), 1, /completes an operation it never invoked/);
    rejects(() => parseJepsenEtcd('INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - 0\t:invoke\t:read\tnil\n'), 2, /outstanding/);
    rejects(() => parseJepsenEtcd('INFO  jepsen.util - 0\t:invoke\t:read\tnil\nINFO  jepsen.util - 0\t:ok\t:write\t1\n'), 2, /completes :write but invoked :read/);
    rejects(() => parseJepsenEtcd('INFO  jepsen.util - 0\t:invoke\t:cas\t7\n'), 1, /a cas takes \[from to\]/);
    rejects(() => parseJepsenEtcd('INFO  jepsen.util - 0\t:invoke\t:write\t[1 2\n'), 1, /unreadable value/);
    rejects(() => parseJepsenEtcd('INFO  jepsen.util - 0\t:done\t:read\tnil\n'), 1, /unknown type ':done'/);
    rejects(() => parsePorcupineKv('{:process 0, :type :invoke, :f :put, :key "k", :value "unterminated}\n'), 1, /unterminated string|not an EDN map/);
    rejects(() => parsePorcupineKv('{:process "p", :type :invoke, :f :get, :key "k", :value nil}\n'), 1, /:process must be an integer/);
    rejects(() => parsePorcupineKv('{:process 0, :type :invoke, :f :put, :key "k", :value nil}\n'), 1, /:put needs a string :value/);
    rejects(() => parseRaftsim(''), 1, /empty file/);
    rejects(() => parseRaftsim('{"raftsim":"history","version":2,"model":"etcd"}\n'), 1, /expected the header/);
    rejects(() => parseRaftsim('{"raftsim":"history","version":1,"model":"sql"}\n'), 1, /unknown model 'sql'/);
    const header = '{"raftsim":"history","version":1,"model":"etcd"}\n';
    rejects(() => parseRaftsim(header + '{"id":0,"client":1,"key":"/a","input":{"f":"get"},"outcome":"ok","call":5,"ret":4,"output":{"index":1,"value":"v"}}\n'), 2, /ret >= call/);
    rejects(() => parseRaftsim(header + '{"id":0,"client":1,"key":"/a","input":{"f":"get"},"outcome":"ok","call":1,"ret":4,"output":{"index":1}}\n'), 2, /a successful get needs a string "value"/);
    rejects(() => parseRaftsim(header + '{"id":0,"client":1,"key":"/a","input":{"f":"set","value":"v","ttl":-1},"outcome":"info","call":1,"ret":4,"output":null}\n'), 2, /"ttl" must be/);
    rejects(() => parseRaftsim(header + '{"id":0,'), 2, /not JSON/);
    rejects(() => parseRaftsim(header + '{"id":0,"client":1,"key":"/a","input":{"f":"get"},"outcome":"info","call":1,"ret":4}\n{"id":0,"client":1,"key":"/a","input":{"f":"get"},"outcome":"info","call":1,"ret":4}\n'), 3, /unique integer/);
  });
});
