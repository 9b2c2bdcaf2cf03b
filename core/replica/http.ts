// The bridge from a replica's reply to core/api's renderer, so both drivers render a reply the same way.
import type { KeysReply } from '../api/response.ts';
import type { KeysRequest } from '../kv/types.ts';
import type { ReplicaReply } from './types.ts';

/** The keys-API reply for a replica reply to `request`; null for members and stats replies (not keys API). */
export function keysReplyOf(request: KeysRequest, reply: ReplicaReply): KeysReply | null {
  const body = reply.body;
  switch (body.type) {
    case 'event':
      return { type: 'event', event: body.event, method: request.method, noValueOnSuccess: request.noValueOnSuccess };
    case 'watch':
      return { type: 'watch', startIndex: body.startIndex, events: [body.event] };
    case 'error':
      return { type: 'error', error: body.error };
    default:
      return null;
  }
}
