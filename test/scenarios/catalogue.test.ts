import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { meetsExpectation, scenarioNamed, scenarios } from '../../scenarios/index.ts';
import { resolveConfig } from '../../sim/config.ts';

const DIR = join(import.meta.dirname, '../../scenarios');

describe('the scenario catalogue', () => {
  it('lists every file in scenarios/ once, under its file name', () => {
    const files = readdirSync(DIR)
      .filter((f) => f.endsWith('.ts') && f !== 'index.ts' && f !== 'types.ts')
      .map((f) => f.slice(0, -3))
      .sort();
    expect(scenarios.map((s) => s.name).sort()).toEqual(files);
    expect(new Set(scenarios.map((s) => s.name)).size).toBe(scenarios.length);
  });

  it('gives each scenario a description, details and a config that resolves', () => {
    for (const s of scenarios) {
      expect(s.description.length, s.name).toBeGreaterThan(10);
      expect(s.description, s.name).not.toContain('\n');
      expect(s.details.length, s.name).toBeGreaterThan(s.description.length);
      expect(() => resolveConfig(s.config), s.name).not.toThrow();
    }
    expect(scenarioNamed('no-such-scenario')).toBeUndefined();
  });

  it('documents every scenario in docs/SCENARIOS.md under its own heading', () => {
    const doc = readFileSync(join(import.meta.dirname, '../../docs/SCENARIOS.md'), 'utf8');
    for (const s of scenarios) expect(doc, s.name).toContain(`### \`${s.name}\``);
  });

  it('runs every scenario with a written schedule in a test of its own', () => {
    const tests = readdirSync(import.meta.dirname)
      .filter((f) => f.endsWith('.test.ts'))
      .map((f) => readFileSync(join(import.meta.dirname, f), 'utf8'))
      .join('\n');
    for (const s of scenarios.filter((x) => x.config.nemesis?.kind === 'schedule')) expect(tests, s.name).toContain(`runScenario('${s.name}'`);
  });

  it('judges expectations: pass needs every check, violation needs its checker to fail', () => {
    const held = [{ checker: 'linearizability', ok: true }, { checker: 'ttl', ok: true }];
    const stale = [{ checker: 'linearizability', ok: false }, { checker: 'ttl', ok: true }];
    expect(meetsExpectation({ kind: 'pass' }, held)).toBe(true);
    expect(meetsExpectation({ kind: 'pass' }, stale)).toBe(false);
    expect(meetsExpectation({ kind: 'violation', checker: 'linearizability' }, stale)).toBe(true);
    expect(meetsExpectation({ kind: 'violation', checker: 'linearizability' }, held)).toBe(false);
    expect(meetsExpectation({ kind: 'violation', checker: 'ttl' }, stale)).toBe(false);
  });
});
