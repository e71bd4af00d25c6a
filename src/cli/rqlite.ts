#!/usr/bin/env node
/**
 * The `rqlite` command: `quorumlite shell` under the name of rqlite's shell, which takes
 * the same flags (-H, -p, -s, -u, --ca-cert, --insecure, -t) and dot commands.
 */
import { runCli } from './main.js';

runCli(['shell', ...process.argv.slice(2)]).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`rqlite: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
