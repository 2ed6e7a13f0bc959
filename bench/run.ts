/**
 * `npm run bench [-- name ...]`: runs every bench/*.bench.ts (or those named),
 * prints each section's table and writes all figures as JSON under
 * bench/results/. Benchmarks report figures and ratios; they never pass/fail.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface BenchRow {
  [column: string]: string | number;
}
export interface BenchSection {
  title: string;
  rows: BenchRow[];
  /** Goal checks, reported as text (e.g. "batch/raw = 0.62 (goal >= 0.5): met"). */
  notes?: string[];
}
export interface BenchModule {
  sections(): Promise<BenchSection[]>;
}

const here = path.dirname(fileURLToPath(import.meta.url));

export function printSection(s: BenchSection): void {
  console.log(`\n## ${s.title}\n`);
  if (s.rows.length > 0) {
    const cols = Object.keys(s.rows[0]!);
    const width = cols.map((c) => Math.max(c.length, ...s.rows.map((r) => String(r[c] ?? '').length)));
    const line = (vals: string[]): string => `| ${vals.map((v, i) => v.padEnd(width[i]!)).join(' | ')} |`;
    console.log(line(cols));
    console.log(`|${width.map((w) => '-'.repeat(w + 2)).join('|')}|`);
    for (const r of s.rows) console.log(line(cols.map((c) => String(r[c] ?? ''))));
  }
  for (const n of s.notes ?? []) console.log(`- ${n}`);
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
  const files = fs
    .readdirSync(here)
    .filter((f) => f.endsWith('.bench.ts'))
    .sort()
    .filter((f) => wanted.length === 0 || wanted.some((w) => f.startsWith(w)));
  const all: Record<string, BenchSection[]> = {};
  console.log(`# fleetkv benchmarks — ${new Date().toISOString()} — ${os.cpus().length} cores, node ${process.version}`);
  for (const f of files) {
    const mod = (await import(pathToFileURL(path.join(here, f)).href)) as BenchModule;
    const sections = await mod.sections();
    for (const s of sections) printSection(s);
    all[f.replace(/\.bench\.ts$/, '')] = sections;
  }
  const out = path.join(here, 'results', `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, `${JSON.stringify({ at: new Date().toISOString(), host: { cores: os.cpus().length, node: process.version }, results: all }, null, 2)}\n`);
  console.log(`\nresults written to ${path.relative(process.cwd(), out)}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
