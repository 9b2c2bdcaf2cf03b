// Public surface of the Raft core. Drivers import from here only.
export * from './types.ts';
export { createNode, restartNode, step, nextTickDeadline, defaultRaftOptions } from './node.ts';
export { lastLogIndex, logTerm, isVoter, quorumSize } from './log.ts';
