import { describe, expect, it } from 'vitest';
import { scenarios } from './scenarios.ts';

describe('replica scenarios', () => {
  for (const [name, scenario] of Object.entries(scenarios)) {
    it(name, () => {
      expect(scenario()).toBe(null);
    });
  }
});
