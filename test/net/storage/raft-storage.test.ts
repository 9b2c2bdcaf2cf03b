import { afterEach, describe, expect, it } from 'vitest';
import * as raft from '../../../core/raft/index.ts';
import type { Ready, RaftInput, RaftOptions, RaftState } from '../../../core/raft/types.ts';
import { WriteAheadLog, WalCorruptionError } from '../../../net/storage/index.ts';
import { persistBatchFromRaft, persistedStateFromWal } from '../../../net/storage/raft-storage.ts';
import { removeTempDirs, tempDir } from './helpers.ts';

afterEach(removeTempDirs);

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** One member driven the way `raftsim serve` will drive it: every persist through the real WAL. */
class DiskBackedNode {
  applied: string[] = [];
  appliedIndex = 0;
  private constructor(
    readonly state: RaftState,
    readonly wal: WriteAheadLog,
  ) {}

  static async start(dir: string, options: RaftOptions): Promise<DiskBackedNode> {
    const { wal, recovered } = await WriteAheadLog.open({ dir, segmentBytes: 2048, log: () => undefined });
    const persisted = persistedStateFromWal(recovered, dir);
    const state = persisted ? raft.restartNode(options, persisted) : raft.createNode(options, { voters: [options.id] });
    const node = new DiskBackedNode(state, wal);
    if (persisted?.snapshot) {
      node.applied = JSON.parse(fromUtf8.decode(persisted.snapshot.data)) as string[];
      node.appliedIndex = persisted.snapshot.index;
    }
    return node;
  }

  async step(input: RaftInput): Promise<void> {
    await this.handle(raft.step(this.state, input));
  }

  private async handle(ready: Ready): Promise<void> {
    if (ready.applySnapshot) {
      this.applied = JSON.parse(fromUtf8.decode(ready.applySnapshot.data)) as string[];
      this.appliedIndex = ready.applySnapshot.index;
    }
    for (const entry of ready.committed) {
      if (entry.kind === 'normal') this.applied.push(fromUtf8.decode(entry.data));
      this.appliedIndex = entry.index;
    }
    if (ready.committed.length > 0) await this.handle(raft.step(this.state, { type: 'applied', index: this.appliedIndex }));
    if (ready.persist) {
      await this.wal.save(persistBatchFromRaft(ready.persist), { sync: ready.mustSync });
      const last = ready.persist.entries.at(-1) ?? ready.persist.snapshot;
      if (last) await this.handle(raft.step(this.state, { type: 'persisted', index: last.index, term: last.term }));
    }
  }
}

describe('the Raft core persisting through the WAL', () => {
  it('survives restarts with compactions in between, losing no committed write', async () => {
    const dir = tempDir();
    const options: RaftOptions = { id: 'n1', seed: 7 };
    const proposed: string[] = [];
    for (let life = 0; life < 5; life++) {
      const node = await DiskBackedNode.start(dir, options);
      await node.step({ type: 'tick', now: 0 });
      await node.step({ type: 'campaign' });
      for (let now = 1; node.state.role !== 'leader' && now < 50; now++) await node.step({ type: 'tick', now: now * 10 });
      expect(node.state.role).toBe('leader');
      for (let i = 0; i < 20; i++) {
        const value = `life${life}-write${i}`;
        proposed.push(value);
        await node.step({ type: 'propose', payloads: [utf8.encode(value)] });
        if (i % 7 === 6) await node.step({ type: 'compact', index: node.appliedIndex, data: utf8.encode(JSON.stringify(node.applied)) });
      }
      expect(node.applied).toEqual(proposed);
      await node.wal.close();
    }
    const last = await DiskBackedNode.start(dir, options);
    await last.step({ type: 'tick', now: 0 });
    expect(last.applied).toEqual(proposed);
    expect(last.wal.stats.snapshotIndex).toBeGreaterThan(0);
    await last.wal.close();
  });

  it('bytes that pass the checksums but not the codec are refused as corruption', async () => {
    const dir = tempDir();
    const { wal } = await WriteAheadLog.open({ dir, log: () => undefined });
    await wal.save({ entries: [{ index: 1, term: 1, data: Uint8Array.of(0xc1) }], hardState: { term: 1, vote: null, commit: 0 } });
    await wal.close();
    const { wal: again, recovered } = await WriteAheadLog.open({ dir, log: () => undefined });
    expect(() => persistedStateFromWal(recovered, dir)).toThrow(WalCorruptionError);
    expect(() => persistedStateFromWal(recovered, dir)).toThrow(/entry 1 does not decode: codec: /);
    await again.close();
  });
});
