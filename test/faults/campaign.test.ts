import { afterAll, describe, expect, it } from 'vitest';
import { powerCutUnavailable } from '../helpers/powercut.js';
import { runScenario, reportTable, writeReport, type ScenarioResult } from './lib/campaign.js';
import { scenarios } from './scenarios.js';

/**
 * The fault campaign: real node processes under a unique-valued write load on
 * every node, one fault at a time, then heal and check (lost = 0, phantom = 0,
 * reused = 0, replicas equal). `npm run test:faults` runs the CI subset;
 * `npm run campaign` (FLEETKV_CAMPAIGN=full) runs every scenario.
 */
const full = process.env.FLEETKV_CAMPAIGN === 'full';
const selected = scenarios.filter((s) => full || s.ci);
const results: ScenarioResult[] = [];

if (powerCutUnavailable) console.warn(`power-cut scenarios skipped: ${powerCutUnavailable}`);

describe(`fault campaign (${full ? 'full' : 'CI subset'})`, () => {
  afterAll(() => {
    if (results.length === 0) return;
    const file = writeReport(results, full ? 'full' : 'ci');
    console.log(`\n${reportTable(results)}\n\nreport: ${file}`);
  });

  for (const s of selected) {
    const skip = s.powerCut ? powerCutUnavailable : undefined;
    it.skipIf(skip !== undefined)(skip ? `${s.name} (skipped: ${skip})` : s.name, async () => {
      const r = await runScenario(s);
      results.push(r);
      expect(r.acknowledged, 'the workload made progress').toBeGreaterThan(100);
      if (s.broken) {
        // A deliberately broken build: the checker must see the damage.
        expect(r.lost > 0 || r.phantom > 0 || r.reused > 0 || !r.replicasEqual, `the checker missed a broken build: ${JSON.stringify(r)}`).toBe(true);
        return;
      }
      expect(r.phantom, r.examples.join('\n')).toBe(0);
      expect(r.reused, r.examples.join('\n')).toBe(0);
      expect(r.replicasEqual, r.examples.join('\n')).toBe(true);
      // Under interval/never a power cut may lose what its window held; nothing else.
      if (!s.skewed) expect(r.lost - r.lostInWindow, r.examples.join('\n')).toBe(0);
    });
  }
});
