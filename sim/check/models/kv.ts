// Porcupine's key/value store, one key per partition: get, put, append (string concatenation). A key never
// written reads as the empty string.
import type { KvInput, KvOutput } from '../history.ts';
import { hashString, type Model } from '../model.ts';

export const kvModel: Model<string, KvInput, KvOutput> = {
  name: 'kv',
  init: () => '',
  step(state, input, output) {
    switch (input.f) {
      case 'get':
        return output === null || output === state ? state : undefined;
      case 'put':
        return input.value;
      case 'append':
        return state + input.value;
    }
  },
  equal: (a, b) => a === b,
  hash: (state) => hashString(state),
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
  describeState: (state) => JSON.stringify(state),
};
