import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { withMutant, type Mutant } from '../../../sim/mutants/mutate.ts';
import { PeerTransport, encodeFrame } from '../../../net/transport/index.ts';
import { closeAll, rawClient, startMember, startStuckPeer, text, waitFor, type Member } from './helpers.ts';

type TransportModule = typeof import('../../../net/transport/index.ts');

afterEach(closeAll);

async function pair(mod?: TransportModule, overrides = {}): Promise<[Member, Member]> {
  const a = await startMember('a', overrides, mod);
  const b = await startMember('b', overrides, mod);
  a.transport.addPeer('b', b.transport.address);
  b.transport.addPeer('a', a.transport.address);
  return [a, b];
}

describe('peer transport on 127.0.0.1', () => {
  it('messages flow both ways, in order, and stats count them', async () => {
    const [a, b] = await pair();
    for (let i = 0; i < 50; i++) {
      expect(a.transport.send('b', text(`a${i}`))).toBe(true);
      expect(b.transport.send('a', text(`b${i}`))).toBe(true);
    }
    expect(await waitFor(() => a.received.length === 50 && b.received.length === 50)).toBe(true);
    expect(b.received.map((m) => m.text)).toEqual(Array.from({ length: 50 }, (_, i) => `a${i}`));
    expect(a.received.every((m) => m.from === 'b')).toBe(true);
    expect(await waitFor(() => (a.transport.stats().b!.roundTrip?.samples ?? 0) > 0)).toBe(true);
    const stats = a.transport.stats().b!;
    expect(stats).toMatchObject({ connected: true, sent: 50, dropped: 0, queued: 0, connects: 1, received: 50 });
    expect(stats.roundTrip!.minMs).toBeGreaterThanOrEqual(0);
    expect(a.transport.send('nobody', text('x'))).toBe(false);
  });

  it('a peer that is down and comes back is reconnected and gets new messages', async () => {
    let jitterDraws = 0;
    const random = (): number => {
      jitterDraws++;
      return 0.5;
    };
    const [a, b] = await pair(undefined, { random });
    a.transport.send('b', text('before'));
    expect(await waitFor(() => b.received.length === 1)).toBe(true);
    const port = b.transport.address.port;
    await b.transport.close();
    expect(await waitFor(() => a.transport.stats().b!.connectionFailures >= 3)).toBe(true);
    a.transport.send('b', text('while-down'));
    const b2 = await startMember('b', { port });
    b2.transport.addPeer('a', a.transport.address);
    expect(await waitFor(() => a.transport.stats().b!.connected)).toBe(true);
    a.transport.send('b', text('after'));
    expect(await waitFor(() => b2.received.some((m) => m.text === 'after'))).toBe(true);
    // What was queued while the peer was down is delivered too, before the newer message.
    expect(b2.received.map((m) => m.text)).toEqual(['while-down', 'after']);
    expect(a.transport.stats().b!.connects).toBe(2);
    // Every redial waited a jittered delay drawn from the injected source.
    expect(jitterDraws).toBeGreaterThanOrEqual(a.transport.stats().b!.connectionFailures);
    expect(a.logs.some((l) => l.includes('reconnected to b'))).toBe(true);
  });

  it('a peer moved to a new address is redialled there; a removed peer is forgotten', async () => {
    const [a, b] = await pair();
    await b.transport.close();
    const moved = await startMember('b');
    moved.transport.addPeer('a', a.transport.address);
    a.transport.addPeer('b', moved.transport.address);
    a.transport.send('b', text('to the new home'));
    expect(await waitFor(() => moved.received.some((m) => m.text === 'to the new home'))).toBe(true);
    a.transport.removePeer('b');
    expect(a.transport.peerIds()).toEqual([]);
    expect(a.transport.send('b', text('gone'))).toBe(false);
    // The removed member's own connection to us is now refused as a stranger's.
    moved.transport.send('a', text('hello?'));
    expect(await waitFor(() => /is not a peer of 'a'/.test(moved.transport.stats().a!.lastError ?? ''))).toBe(true);
    expect(a.received.some((m) => m.text === 'hello?')).toBe(false);
  });

  it('a slow peer does not delay a fast one, and its queue stays bounded', async () => {
    expect(await slowPeerDoesNotDelayFastOne()).toEqual([]);
  });

  it('catches an unbounded outbound queue (mutant)', async () => {
    const mutant: Mutant = {
      name: 'transport-unbounded-queue',
      description: 'the outbound queue never considers itself full, so a stuck peer makes it grow without limit',
      edits: [{ file: 'net/transport/queue.ts', find: /const fits = \(\): boolean => [^;]+;/, replace: 'const fits = (): boolean => true;' }],
    };
    const problems = await withMutant(mutant, 'net/transport/index.ts', slowPeerDoesNotDelayFastOne, { dirs: ['net', 'core/codec'] });
    expect(problems.join('\n')).toMatch(/queue of the stuck peer/);
  });

  it('a member of another cluster is refused and delivers nothing', async () => {
    expect(await wrongClusterIsRefused()).toEqual([]);
  });

  it('catches a handshake that ignores the cluster id (mutant)', async () => {
    const mutant: Mutant = {
      name: 'transport-no-cluster-check',
      description: 'the accepting side never compares cluster ids',
      edits: [{ file: 'net/transport/peer-transport.ts', find: 'if (hello.cluster !== this.opts.clusterId)', replace: 'if (false)' }],
    };
    const problems = await withMutant(mutant, 'net/transport/index.ts', wrongClusterIsRefused, { dirs: ['net', 'core/codec'] });
    expect(problems.length).toBeGreaterThan(0);
  });

  it('malformed and oversized frames close that connection only, with a logged reason', async () => {
    expect(await badFramesAreRejected()).toEqual([]);
  });

  it('catches a decoder without a frame size limit (mutant)', async () => {
    const mutant: Mutant = {
      name: 'transport-no-frame-limit',
      description: 'the decoder trusts any declared frame length and waits to buffer it',
      edits: [{ file: 'net/transport/frame.ts', find: 'if (length > this.maxFrameBytes) throw', replace: 'if (false) throw' }],
    };
    const problems = await withMutant(mutant, 'net/transport/index.ts', badFramesAreRejected, { dirs: ['net', 'core/codec'] });
    expect(problems.join('\n')).toMatch(/oversized/);
  });

  it('a connection that never completes the handshake is closed after the timeout', async () => {
    const b = await startMember('b', { handshakeTimeoutMs: 100 });
    const client = await rawClient(b.transport.address.port);
    expect(await waitFor(() => client.closed(), 3000)).toBe(true);
    expect(b.logs.join('\n')).toMatch(/no handshake within 100 ms/);
  });

  it('a hello for another member or from a stranger is refused with the reason sent back', async () => {
    const b = await startMember('b');
    const client = await rawClient(b.transport.address.port);
    client.socket.write(encodeFrame({ k: 'hello', v: 1, cluster: 'test-cluster', from: 'stranger', to: 'b' }));
    expect(await waitFor(() => client.closed(), 3000)).toBe(true);
    expect(Buffer.concat(client.data).toString('latin1')).toContain("member 'stranger' is not a peer of 'b'");
    const other = await rawClient(b.transport.address.port);
    other.socket.write(encodeFrame({ k: 'hello', v: 1, cluster: 'test-cluster', from: 'a', to: 'c' }));
    expect(await waitFor(() => other.closed(), 3000)).toBe(true);
    expect(b.logs.join('\n')).toMatch(/member id mismatch: this is 'b', the peer dialed 'c'/);
  });

  it('a message handler that throws is logged and does not break the connection', async () => {
    let calls = 0;
    const a = await startMember('a');
    const b = await startMember('b', {
      onMessage: () => {
        calls++;
        if (calls === 1) throw new Error('handler bug');
      },
    });
    a.transport.addPeer('b', b.transport.address);
    b.transport.addPeer('a', a.transport.address);
    a.transport.send('b', text('1'));
    a.transport.send('b', text('2'));
    expect(await waitFor(() => calls === 2)).toBe(true);
    expect(b.logs.join('\n')).toMatch(/message handler failed on a message from a: handler bug/);
    expect(a.transport.stats().b!.connects).toBe(1);
  });

  it('bad options and an address in use are one-line errors', async () => {
    const onMessage = (): void => undefined;
    await expect(PeerTransport.listen({ clusterId: '', memberId: 'a', onMessage })).rejects.toThrow('transport: bad options: clusterId is empty');
    await expect(PeerTransport.listen({ clusterId: 'c', memberId: 'a', maxFrameBytes: 1, queueMessages: 0, onMessage })).rejects.toThrow(
      'transport: bad options: maxFrameBytes must be >= 64, got 1; queueMessages must be >= 1, got 0',
    );
    await expect(PeerTransport.listen({ clusterId: 'c', memberId: 'a', port: 70000, onMessage })).rejects.toThrow(/port must be 0..65535/);
    const a = await startMember('a');
    await expect(PeerTransport.listen({ clusterId: 'c', memberId: 'x', port: a.transport.address.port, onMessage })).rejects.toThrow(/cannot listen on 127.0.0.1:\d+: EADDRINUSE/);
    expect(() => a.transport.addPeer('a', a.transport.address)).toThrow(/cannot add self/);
  });

  it('a message larger than the frame limit is refused at send', async () => {
    const [a] = await pair(undefined, { maxFrameBytes: 1024 });
    expect(a.transport.send('b', new Uint8Array(2000))).toBe(false);
    expect(a.transport.stats().b!.dropped).toBe(1);
    expect(a.transport.stats().b!.lastError).toMatch(/exceeds the frame maximum of 1024/);
  });
});

afterAll(async () => {
  // Every test closed what it opened: no TCP socket or listener outlives the suite.
  await closeAll();
  const tcp = (): string[] => process.getActiveResourcesInfo().filter((r) => r.startsWith('TCP'));
  await waitFor(() => tcp().length === 0, 2000);
  expect(tcp()).toEqual([]);
});

/** Sends paced rounds to a healthy peer and to one that stopped reading; returns the problems seen. */
async function slowPeerDoesNotDelayFastOne(mod: TransportModule = { PeerTransport } as TransportModule): Promise<string[]> {
  const problems: string[] = [];
  const queueMessages = 32;
  const a = await startMember('a', { queueMessages }, mod);
  const fast = await startMember('fast', {}, mod);
  const stuck = await startStuckPeer(encodeFrame({ k: 'welcome' }));
  fast.transport.addPeer('a', a.transport.address);
  a.transport.addPeer('fast', fast.transport.address);
  a.transport.addPeer('stuck', { host: '127.0.0.1', port: stuck.port });
  if (!(await waitFor(() => a.transport.stats().stuck!.connected && a.transport.stats().fast!.connected))) problems.push('never connected');
  const body = new Uint8Array(64 * 1024);
  const rounds = 60;
  let expected = 0;
  let maxQueued = 0;
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < 8; i++) {
      a.transport.send('fast', body);
      a.transport.send('stuck', body);
      expected++;
    }
    maxQueued = Math.max(maxQueued, a.transport.stats().stuck!.queued);
    // The fast peer must keep up round by round while the stuck one is saturated.
    if (!(await waitFor(() => fast.received.length === expected, 5000))) {
      problems.push(`fast peer stalled at ${fast.received.length} of ${expected} in round ${round}`);
      break;
    }
  }
  const stuckStats = a.transport.stats().stuck!;
  if (maxQueued > queueMessages) problems.push(`queue of the stuck peer grew to ${maxQueued} (bound ${queueMessages})`);
  if (stuckStats.dropped === 0) problems.push('the stuck peer never dropped anything: it was not saturated');
  if (a.transport.stats().fast!.dropped !== 0) problems.push('the fast peer lost messages');
  return problems;
}

async function wrongClusterIsRefused(mod: TransportModule = { PeerTransport } as TransportModule): Promise<string[]> {
  const problems: string[] = [];
  const b = await startMember('b', {}, mod);
  const intruder = await startMember('a', { clusterId: 'other-cluster' }, mod);
  b.transport.addPeer('a', intruder.transport.address);
  intruder.transport.addPeer('b', b.transport.address);
  intruder.transport.send('b', text('should not arrive'));
  if (!(await waitFor(() => /cluster id mismatch/.test(intruder.transport.stats().b!.lastError ?? ''), 2000))) {
    problems.push(`intruder not told: ${intruder.transport.stats().b!.lastError}`);
  }
  if (b.received.length > 0) problems.push('a message from another cluster was delivered');
  if (intruder.transport.stats().b!.connected) problems.push('the intruder is connected');
  if (!b.logs.some((l) => l.includes("cluster id mismatch: this member is in cluster 'test-cluster', the peer in 'other-cluster'"))) problems.push('no log line on the refusing side');
  return problems;
}

async function badFramesAreRejected(mod: TransportModule = { PeerTransport } as TransportModule): Promise<string[]> {
  const problems: string[] = [];
  const [a, b] = await pair(mod, { maxFrameBytes: 4096 });
  const port = b.transport.address.port;
  const garbage = await rawClient(port);
  garbage.socket.write(Uint8Array.from([0, 0, 0, 3, 0xc1, 0xc1, 0xc1]));
  if (!(await waitFor(() => garbage.closed(), 2000))) problems.push('malformed frame: connection left open');
  const oversized = await rawClient(port);
  oversized.socket.write(Uint8Array.from([0x7f, 0xff, 0xff, 0xff, 1, 2, 3]));
  if (!(await waitFor(() => oversized.closed(), 2000))) problems.push('oversized frame: connection left open');
  const wrongFirst = await rawClient(port);
  wrongFirst.socket.write(encodeFrame({ k: 'msg', body: text('no hello') }));
  if (!(await waitFor(() => wrongFirst.closed(), 2000))) problems.push('message before hello: connection left open');
  const logs = b.logs.join('\n');
  if (!/malformed frame/.test(logs)) problems.push('malformed frame: no log line');
  if (!/frame of 2147483647 bytes exceeds the maximum of 4096/.test(logs)) problems.push('oversized frame: no log line');
  if (!/expected a handshake, got 'msg'/.test(logs)) problems.push('message before hello: no log line');
  // The member is unharmed: its real peer still gets through.
  a.transport.send('b', text('still fine'));
  if (!(await waitFor(() => b.received.some((m) => m.text === 'still fine'), 2000))) problems.push('member stopped working');
  if (b.received.some((m) => m.text === 'no hello')) problems.push('a message without a handshake was delivered');
  return problems;
}
