// Public surface of the replica. Drivers (sim/, net/) import from here only.
export * from './types.ts';
export {
  createReplica,
  restartReplica,
  stepReplica,
  replicaTickDeadline,
  observeReplica,
  storeDigest,
  encodeReplicated,
  decodeReplicated,
  encodeReplicaState,
  decodeReplicaState,
  seenBefore,
  defaultReplicaOptions,
  ReplicaInvariantError,
  CAUSE_TIMEOUT,
  CAUSE_NO_LEADER,
  CAUSE_LEADER_CHANGED,
  CAUSE_TOO_MANY_REQUESTS,
  CAUSE_TOO_LARGE,
  CAUSE_RESULT_LOST,
} from './replica.ts';
export { mergePersist, persistedPoint } from './persist.ts';
export { keysReplyOf } from './http.ts';
export { encodePeerMessage, decodePeerMessage } from './codec.ts';
