import { describe, expect, it } from 'vitest';
import type { EtcdInput, EtcdOutput, Operation } from '../../../sim/check/history.ts';
import { checkLinearizability } from '../../../sim/check/linearizability.ts';
import { etcdModel } from '../../../sim/check/models/etcd.ts';
import { renderReport } from '../../../sim/check/report.ts';

const op = (id: number, client: number, input: EtcdInput, output: EtcdOutput | null, call: number, ret: number): Operation<EtcdInput, EtcdOutput> => ({
  id,
  client,
  key: '/a<b>',
  input,
  output,
  outcome: output === null ? 'info' : 'ok',
  call,
  ret,
});

// A stale read after two completed writes, plus an indeterminate write and an unrelated earlier prefix.
const ops = [
  op(0, 0, { f: 'set', value: 'zero' }, { index: 1 }, 0, 5),
  op(1, 1, { f: 'get' }, { value: 'zero', index: 1 }, 6, 8),
  op(2, 0, { f: 'set', value: 'one' }, { index: 4 }, 10, 20),
  op(3, 2, { f: 'set', value: 'x' }, null, 12, 14),
  op(4, 0, { f: 'set', value: 'two' }, { index: 5 }, 30, 40),
  op(5, 1, { f: 'get' }, { value: 'one', index: 4 }, 50, 60),
];

describe('HTML failure report', () => {
  const result = checkLinearizability(etcdModel, ops);
  const failure = result.partitions[0]!.failure!;
  const html = renderReport({ title: 'stale read <demo>', model: etcdModel, ops, failure });

  it('explains the failure: the blocked operation, the prefix and the window', () => {
    expect(failure.blocked).toBe(5);
    expect(failure.linearized).toContain(4);
    expect(failure.window).toEqual(expect.arrayContaining([4, 5]));
    expect(html).toContain('Operation <b>#5</b>');
    expect(html).toMatch(/class="bar linearized"[^>]*data-op="4"/);
    expect(html).toMatch(/class="bar [a-z]+ info"[^>]*data-op="3"/);
    expect(html).toContain('get() -&gt; &quot;one&quot; @4');
    expect(html).toContain('<h2>End of the longest linearizable prefix</h2>');
    // The stale read alone, with the writes, is the proof; the earlier read is not needed.
    expect(failure.essentialReads).toEqual([5]);
    expect(failure.window).not.toContain(1);
    expect(html).toMatch(/class="bar blocked essential"[^>]*data-op="5"/);
    expect(html).toContain('only the read <b>#5</b> (outlined in red) already admit no order');
  });

  it('is self-contained and escapes what it shows', () => {
    expect(html).not.toMatch(/\b(src|href)\s*=/i);
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).toContain('<style>');
    expect(html).toContain('<script>');
    expect(html).toContain('stale read &lt;demo&gt;');
    expect(html).not.toContain('<demo>');
    expect(html).toContain('&quot;/a&lt;b&gt;&quot;');
  });
});
