import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PEER_BOOK_FILE, PeerBook } from '../../src/replication/peer-book.js';
import { tempDir } from '../helpers/proc.js';

describe('peer book persistence', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('survives a failing background save (full disk) and saves once it can (campaign regression)', () => {
    vi.useFakeTimers();
    const dir = tempDir('fleetkv-book-');
    const blocker = path.join(dir, `${PEER_BOOK_FILE}.tmp`);
    fs.mkdirSync(blocker); // writing the temp file now fails, like ENOSPC
    const book = new PeerBook(dir, 60_000);
    book.seen('n1', { 'n1:1': 5 });
    expect(() => vi.advanceTimersByTime(1500)).not.toThrow();
    expect(book.saveError).toBeDefined();
    fs.rmdirSync(blocker);
    vi.advanceTimersByTime(1500);
    expect(book.saveError).toBeUndefined();
    expect(JSON.parse(fs.readFileSync(path.join(dir, PEER_BOOK_FILE), 'utf8')).peers.n1.vector).toEqual({ 'n1:1': 5 });
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
