import { describe, expect, it } from 'vitest';
import * as kvMutants from '../../../sim/mutants/kv.ts';
import { materialize, type Mutant } from '../../../sim/mutants/mutate.ts';
import { FIXTURE_PATH, loadFixture, replay, type ReplayModules } from './replay.ts';

const fixture = loadFixture();

describe('etcd v2 conformance replay', () => {
  it.skipIf(fixture !== null)(`skipped: no fixture at ${FIXTURE_PATH} (record it with test/fixtures/etcd-v2/record.ts)`, () => {
    expect(fixture).toBe(null);
  });

  it.skipIf(fixture === null)('answers every recorded case exactly as etcd did (status, kept headers, body bytes)', () => {
    const cases = fixture!.cases;
    expect(cases.length).toBeGreaterThan(150);
    const mismatches = replay(cases);
    const report = mismatches
      .slice(0, 20)
      .map((m) => `${m.id}\n  want ${JSON.stringify(m.want)}\n  got  ${JSON.stringify(m.got)}`)
      .join('\n');
    expect(report, `${mismatches.length} of ${cases.length} cases differ`).toBe('');
  });

  // The replay is a checker too: it must notice planted bugs in the store and in the API.
  const planted: Mutant[] = [kvMutants.hiddenKeysListed, kvMutants.refreshWakesWatchers, kvMutants.casIgnoresPrevIndex, kvMutants.jsonWithoutHtmlEscapes, kvMutants.rootReadOnlyIsForbidden];
  for (const mutant of planted) {
    it.skipIf(fixture === null)(`notices the planted bug ${mutant.name}`, async () => {
      const copy = materialize(mutant);
      try {
        const modules: ReplayModules = {
          kv: await copy.import<ReplayModules['kv']>('core/kv/index.ts'),
          api: await copy.import<ReplayModules['api']>('core/api/index.ts'),
        };
        expect(replay(fixture!.cases, modules).length).toBeGreaterThan(0);
      } finally {
        copy.remove();
      }
    });
  }
});
