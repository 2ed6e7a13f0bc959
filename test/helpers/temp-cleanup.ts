import { afterAll } from 'vitest';
import { removeTempDirs } from './temp.js';

// A vitest setup file: registered before the test file's own hooks, so it runs
// after them (hooks run as a stack), once the file's nodes are stopped.
afterAll(removeTempDirs);
