// Jepsen's single register, as in its etcd test: read, write, compare-and-set. A cas whose output is `false`
// happened and saw a value other than `from` (Jepsen records it as `:fail :cas`).
import type { RegisterInput, RegisterOutput } from '../history.ts';
import type { Model } from '../model.ts';

export type RegisterState = number | null;

export const registerModel: Model<RegisterState, RegisterInput, RegisterOutput> = {
  name: 'register',
  init: () => null,
  step(state, input, output) {
    switch (input.f) {
      case 'read':
        if (output === null) return state;
        return output === (state === null ? 'nil' : state) ? state : undefined;
      case 'write':
        return input.value;
      case 'cas':
        if (output === null) return state === input.from ? input.to : state;
        if (output === true) return state === input.from ? input.to : undefined;
        return state !== input.from ? state : undefined;
    }
  },
  equal: (a, b) => a === b,
  hash: (state) => (state === null ? 0x7fffffff : Math.imul(state | 0, 0x9e3779b1) >>> 0),
  readOnly: (input) => input.f === 'read',
  describeOperation(input, output) {
    const shown = output === null ? '?' : String(output);
    switch (input.f) {
      case 'read':
        return `read() -> ${shown}`;
      case 'write':
        return `write(${input.value})`;
      case 'cas':
        return `cas(${input.from} -> ${input.to}) -> ${shown}`;
    }
  },
  describeState: (state) => (state === null ? 'nil' : String(state)),
};
