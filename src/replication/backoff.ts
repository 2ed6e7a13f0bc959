/**
 * Redial delay: capped exponential backoff with jitter. The delay for
 * attempt n is drawn from [base/2, base] with base = min(max, min * 2^n), so
 * peers that lost each other at the same moment do not redial in lockstep.
 */
export function redialDelay(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const base = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return Math.round(base / 2 + (random() * base) / 2);
}
