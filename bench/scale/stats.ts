/** Small figures helpers for the scale report. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export const round = (v: number, digits = 1): number => Number(v.toFixed(digits));
export const mib = (bytes: number): number => round(bytes / 1024 / 1024);
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
