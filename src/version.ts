import fs from 'node:fs';

/** The package version (src/ and dist/ both sit one level below package.json). */
export const VERSION: string = (() => {
  try {
    return (JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
})();
