import { describe, expect, it } from 'vitest';
import type { Entry } from '../../src/entry/entry.js';
import { WatchJournal } from '../../src/http/watch-journal.js';

/** Unit test of the watch journal alone (the resumed watch over HTTP: test/integration/watch-resume.test.ts). */
const change = (key: string): Entry => ({ key }) as Entry;
const journal = (maxEvents = 100, maxBytes = 1 << 20): WatchJournal => new WatchJournal({ maxEvents, maxBytes }, (e) => JSON.stringify({ key: e.key }));
const keysOf = (events: string[]): string[] => events.map((t) => (JSON.parse(t.split('\n')[1]!.slice(6)) as { key: string }).key);

describe('watch journal', () => {
  it('numbers every change, sends it to subscribers under its prefix, and replays what came after an id', () => {
    const j = journal();
    const seen: string[] = [];
    j.subscribe('robots/', (t) => seen.push(t));
    j.record(change('robots/r1/pose'));
    const mark = j.lastId;
    j.record(change('missions/m1'));
    j.record(change('robots/r2/pose'));
    j.record(change('robots/r1/pose'));
    expect(seen).toHaveLength(3);
    expect(seen[0]).toBe(`id: ${j.boot}.1\ndata: {"key":"robots/r1/pose"}\n\n`);
    const r = j.since(mark, 'robots/');
    expect('events' in r && keysOf(r.events)).toEqual(['robots/r2/pose', 'robots/r1/pose']);
    const all = j.since(`${j.boot}.0`, '');
    expect('events' in all && all.events).toHaveLength(4);
    expect(j.since(j.lastId, '')).toEqual({ events: [] });
  });

  it('says why it cannot resume: garbage, another process, an id it has not given, one it no longer keeps', () => {
    const j = journal(3);
    for (let i = 0; i < 10; i++) j.record(change(`k${i}`));
    expect(j.since('banana', '')).toEqual({ reset: 'invalid-id' });
    expect(j.since('', '')).toEqual({ reset: 'invalid-id' });
    expect(j.since(`${j.boot}.1e3`, '')).toEqual({ reset: 'invalid-id' });
    expect(j.since('00000000.5', '')).toEqual({ reset: j.boot === '00000000' ? 'too-old' : 'restarted' });
    expect(j.since(`${j.boot}.11`, '')).toEqual({ reset: 'ahead' });
    // Kept: 8, 9, 10. After 7 is the oldest id it can resume from.
    expect(j.since(`${j.boot}.6`, '')).toEqual({ reset: 'too-old' });
    const r = j.since(`${j.boot}.7`, '');
    expect('events' in r && keysOf(r.events)).toEqual(['k7', 'k8', 'k9']);
  });

  it('keeps at most maxBytes of event text (but always the latest change)', () => {
    const j = journal(1000, 200);
    for (let i = 0; i < 50; i++) j.record(change(`key/${i}`));
    const r = j.since(`${j.boot}.40`, '');
    expect('reset' in r).toBe(true);
    const last = j.since(`${j.boot}.49`, '');
    expect('events' in last && keysOf(last.events)).toEqual(['key/49']);
  });
});
