// The public surface of the etcd v2 store.
export * from './types.ts';
export { ErrorCode, etcdError, requestError, errorMessage, httpStatusOfError, isEtcdError } from './errors.ts';
export { PERMANENT, MIN_EXPIRE_TIME_MS, formatRfc3339Nano, ttlSecondsLeft } from './time.ts';
export { cleanPath, storePath } from './paths.ts';
export { HISTORY_CAPACITY } from './history.ts';
export {
  newStore,
  get,
  set,
  create,
  update,
  compareAndSwap,
  deleteNode,
  compareAndDelete,
  deleteExpired,
  watch,
  unwatch,
  storeStats,
  findNode,
  viewOf,
  nextExpiryMs,
  hasTtlKeys,
  expiryFromTtl,
  cloneStore,
  encodeStore,
  decodeStore,
  snapshotStore,
  restoreStore,
  computeTreeHash,
  type StoreOptions,
} from './store.ts';
export { applyCommand, applyRequest, isWriteRequest, isWatchRequest, goesThroughLog } from './apply.ts';
export { toMsgpackSafe, fromMsgpackSafe, escapeLoneSurrogates, unescapeLoneSurrogates } from './wire.ts';
