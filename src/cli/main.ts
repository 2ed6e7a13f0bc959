#!/usr/bin/env node
/**
 * The `fleetkv` command. `start` (the resident daemon) takes a path of its own
 * that loads neither commander nor any client command (src/cli/start.ts);
 * every other command, and `start --help`, goes through src/cli/program.ts.
 */
const argv = process.argv.slice(2);
if (argv[0] === 'start' && !argv.includes('--help') && !argv.includes('-h')) {
  const { runStart } = await import('./start.js');
  await runStart(argv.slice(1));
} else {
  const { runProgram } = await import('./program.js');
  runProgram(process.argv);
}
