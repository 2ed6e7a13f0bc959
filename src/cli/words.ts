import { FleetError } from '../errors.js';

/**
 * Split a shell line into words, as a POSIX shell would for plain words and
 * quotes: "double quotes" (backslash escapes \" and \\ inside), 'single
 * quotes' (taken literally), a backslash outside quotes escapes the next
 * character; quoted parts and plain parts next to each other make one word,
 * and "" is an empty word. An unclosed quote is a USAGE error.
 */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === ' ' || c === '\t') {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new FleetError('USAGE', "unclosed ' quote");
      word = (word ?? '') + line.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      word ??= '';
      for (i++; ; i++) {
        if (i >= line.length) throw new FleetError('USAGE', 'unclosed " quote');
        const d = line[i]!;
        if (d === '"') break;
        if (d === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\')) word += line[++i];
        else word += d;
      }
    } else if (c === '\\' && i + 1 < line.length) {
      word = (word ?? '') + line[++i];
    } else {
      word = (word ?? '') + c;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}
