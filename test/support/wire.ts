// A peer-message codec for tests that watch the simulated wire: it numbers every message per link when it is
// sent and, on delivery, counts copies of a number already delivered (duplicates) and numbers below the
// highest delivered on that link (overtakes).
import { decodePeerMessage, encodePeerMessage, type PeerMessage } from '../../core/replica/index.ts';
import type { MessageCodec } from '../../sim/world/world.ts';

export interface SequencedCodec extends MessageCodec<PeerMessage> {
  readonly counts: { duplicates: number; reordered: number };
}

export function sequencedCodec(): SequencedCodec {
  const sent = new Map<string, number>();
  const highest = new Map<string, number>();
  const delivered = new Set<string>();
  const counts = { duplicates: 0, reordered: 0 };
  return {
    counts,
    encode(m) {
      const link = `${m.from}>${m.to}`;
      const seq = (sent.get(link) ?? 0) + 1;
      sent.set(link, seq);
      const body = encodePeerMessage(m);
      const bytes = new Uint8Array(body.length + 4);
      new DataView(bytes.buffer).setUint32(0, seq);
      bytes.set(body, 4);
      return bytes;
    },
    decode(bytes) {
      const seq = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0);
      const m = decodePeerMessage(bytes.subarray(4));
      const link = `${m.from}>${m.to}`;
      if (delivered.has(`${link}#${seq}`)) counts.duplicates++;
      delivered.add(`${link}#${seq}`);
      if (seq < (highest.get(link) ?? 0)) counts.reordered++;
      highest.set(link, Math.max(seq, highest.get(link) ?? 0));
      return m;
    },
  };
}
