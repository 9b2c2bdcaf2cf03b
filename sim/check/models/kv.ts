// Porcupine's key/value store, one key per partition: get, put, append (string concatenation). A key never
// written reads as the empty string. The state carries its own hash, extended incrementally on append, because
// appended values grow long and the search hashes a state at every step.
import type { KvInput, KvOutput } from '../history.ts';
import { hashString, type Model } from '../model.ts';

export interface KvState {
  value: string;
  hash: number;
}

const EMPTY: KvState = { value: '', hash: hashString('') };

export const kvModel: Model<KvState, KvInput, KvOutput> = {
  name: 'kv',
  init: () => EMPTY,
  step(state, input, output) {
    switch (input.f) {
      case 'get':
        return output === null || output === state.value ? state : undefined;
      case 'put':
        return { value: input.value, hash: hashString(input.value) };
      case 'append':
        return { value: state.value + input.value, hash: hashString(input.value, state.hash) };
    }
  },
  equal: (a, b) => a === b || (a.hash === b.hash && a.value === b.value),
  hash: (state) => state.hash,
  readOnly: (input) => input.f === 'get',
  describeOperation(input, output) {
    switch (input.f) {
      case 'get':
        return `get() -> ${output === null ? '?' : JSON.stringify(output)}`;
      case 'put':
        return `put(${JSON.stringify(input.value)})`;
      case 'append':
        return `append(${JSON.stringify(input.value)})`;
    }
  },
  describeState: (state) => JSON.stringify(state.value),
};
