// The etcd v2 key model for simulator histories: one key, its value and its modifiedIndex. Indexes come from the
// outputs, so the model also checks that a key's modifiedIndex only grows and that a read returns the index of
// the write it saw. After an indeterminate write the index is unknown until an output reveals it, but never
// forgotten altogether: it is above every index the key had before (modifiedIndex only grows), so a later read
// of an older index, or a compare against one, is still refused.
//
// An indeterminate operation whose compare cannot hold is rejected rather than applied as a no-op: a no-op is
// the same as never taking effect, which the search already explores.
import {
  ETCD_COMPARE_FAILED,
  ETCD_KEY_NOT_FOUND,
  ETCD_NODE_EXISTS,
  type EtcdInput,
  type EtcdOutput,
} from '../history.ts';
import { hashString, mixHash, type Model } from '../model.ts';

export interface EtcdKeyState {
  /** null: the key does not exist. */
  value: string | null;
  /** modifiedIndex of the last write or delete; 0 initially; -1 unknown (after an indeterminate write). */
  index: number;
  /** When the index is unknown: it is greater than this. 0 when the index is known. */
  above: number;
}

const ABSENT: EtcdKeyState = { value: null, index: 0, above: 0 };

/** The smallest modifiedIndex the key can have now. */
function leastIndex(state: EtcdKeyState): number {
  return state.index === -1 ? state.above + 1 : state.index;
}

type Compare = { prevValue?: string; prevIndex?: number };

/** true: the compare holds; false: it fails; undefined: cannot tell (the index is unknown). */
function compareHolds(state: EtcdKeyState, c: Compare): boolean | undefined {
  if (state.value === null) return false;
  if (c.prevValue !== undefined && c.prevValue !== state.value) return false;
  if (c.prevIndex !== undefined) {
    if (state.index === -1) return c.prevIndex > state.above ? undefined : false;
    if (c.prevIndex !== state.index) return false;
  }
  return true;
}

function indexMayFollow(state: EtcdKeyState, index: number): boolean {
  return index > leastIndex(state);
}

function isError(output: EtcdOutput): output is { error: number; index?: number } {
  return (output as { error?: number }).error !== undefined;
}

function written(value: string | null, index: number): EtcdKeyState {
  return { value, index, above: 0 };
}

/** After a write whose index is not known: above the key's index before it (and above a prevIndex it matched). */
function writtenUnknown(state: EtcdKeyState, value: string | null, matchedIndex = 0): EtcdKeyState {
  return { value, index: -1, above: Math.max(leastIndex(state), matchedIndex) };
}

function stepUnknown(state: EtcdKeyState, input: EtcdInput): EtcdKeyState | undefined {
  switch (input.f) {
    case 'get':
      return state;
    case 'set':
      return writtenUnknown(state, input.value);
    case 'create':
      return state.value === null ? writtenUnknown(state, input.value) : undefined;
    case 'update':
      return state.value !== null ? writtenUnknown(state, input.value) : undefined;
    case 'cas':
      return compareHolds(state, input) !== false ? writtenUnknown(state, input.value, input.prevIndex) : undefined;
    case 'delete':
    case 'expire':
      return state.value !== null ? writtenUnknown(state, null) : undefined;
    case 'cad':
      return compareHolds(state, input) !== false ? writtenUnknown(state, null, input.prevIndex) : undefined;
  }
}

function stepError(state: EtcdKeyState, input: EtcdInput, code: number): EtcdKeyState | undefined {
  if (code === ETCD_KEY_NOT_FOUND) {
    const f = input.f;
    const applies = f === 'get' || f === 'update' || f === 'cas' || f === 'delete' || f === 'cad';
    return applies && state.value === null ? state : undefined;
  }
  if (code === ETCD_NODE_EXISTS) return input.f === 'create' && state.value !== null ? state : undefined;
  if (code === ETCD_COMPARE_FAILED) {
    if (input.f !== 'cas' && input.f !== 'cad') return undefined;
    return state.value !== null && compareHolds(state, input) !== true ? state : undefined;
  }
  return undefined;
}

export const etcdModel: Model<EtcdKeyState, EtcdInput, EtcdOutput> = {
  name: 'etcd',
  init: () => ABSENT,
  step(state, input, output) {
    if (output === null) return stepUnknown(state, input);
    if (isError(output)) return stepError(state, input, output.error);
    const index = output.index;
    switch (input.f) {
      case 'get':
        if (state.value === null || output.value !== state.value) return undefined;
        if (state.index === index) return state;
        return state.index === -1 && index > state.above ? written(state.value, index) : undefined;
      case 'set':
        return indexMayFollow(state, index) ? written(input.value, index) : undefined;
      case 'create':
        return state.value === null && indexMayFollow(state, index) ? written(input.value, index) : undefined;
      case 'update':
        return state.value !== null && indexMayFollow(state, index) ? written(input.value, index) : undefined;
      case 'cas':
        return compareHolds(state, input) !== false && indexMayFollow(state, index) ? written(input.value, index) : undefined;
      case 'delete':
      case 'expire':
        return state.value !== null && indexMayFollow(state, index) ? written(null, index) : undefined;
      case 'cad':
        return compareHolds(state, input) !== false && indexMayFollow(state, index) ? written(null, index) : undefined;
    }
  },
  equal: (a, b) => a.value === b.value && a.index === b.index && a.above === b.above,
  hash: (s) => mixHash(mixHash(s.value === null ? 0x51ed270b : hashString(s.value), s.index), s.above),
  readOnly: (input) => input.f === 'get',
  checked: (input) => input.f !== 'get' || input.quorum !== false,
  rank(input, output) {
    // A write that produced modifiedIndex i comes after every write of a smaller index and every read that saw
    // one; a read that saw i comes after the write of i. Errors carry the store-wide index, which orders them
    // against writes but not against reads (a read of i happened at some store index >= i), so they get no rank.
    if (output === null || isError(output)) return undefined;
    return input.f === 'get' ? 2 * output.index + 1 : 2 * output.index;
  },
  describeOperation(input, output) {
    const args: string[] = [];
    if ('value' in input) args.push(JSON.stringify(input.value));
    if ('prevValue' in input && input.prevValue !== undefined) args.push(`prevValue=${JSON.stringify(input.prevValue)}`);
    if ('prevIndex' in input && input.prevIndex !== undefined) args.push(`prevIndex=${input.prevIndex}`);
    let shown = '?';
    if (output !== null) {
      if (isError(output)) shown = `error ${output.error}${output.index !== undefined ? ` @${output.index}` : ''}`;
      else shown = `${output.value !== undefined ? `${JSON.stringify(output.value)} ` : ''}@${output.index}`;
    }
    return `${input.f}(${args.join(', ')}) -> ${shown}`;
  },
  describeState: (s) => `${s.value === null ? '(absent)' : JSON.stringify(s.value)} @${s.index === -1 ? `>${s.above}` : s.index}`,
};
