import { describe, expect, it } from 'vitest';
import { keysRequest } from '../../../core/api/index.ts';
import { ReplicaCluster } from './driver.ts';

describe('smoke', () => {
  it('one member writes and reads', () => {
    const c = new ReplicaCluster(['a']);
    const leader = c.elect();
    expect(leader).toBe('a');
    const w = c.request('a', keysRequest('PUT', '/x', { value: '1' }));
    const r = c.await('a', w);
    expect(r.outcome).toBe('ok');
    const g = c.request('a', keysRequest('GET', '/x'));
    const rr = c.await('a', g);
    expect(rr.body.type === 'event' && rr.body.event.node.value).toBe('1');
  });
  it('three members forward', () => {
    const c = new ReplicaCluster(['a', 'b', 'c']);
    const leader = c.elect('a');
    const w = c.request('b', keysRequest('PUT', '/x', { value: '1' }));
    const r = c.await('b', w);
    expect(r.outcome).toBe('ok');
    expect(leader).toBe('a');
  });
});
