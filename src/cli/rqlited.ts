#!/usr/bin/env node
/**
 * The `rqlited` command: `quorumlite serve` under rqlited's name, so that an rqlited
 * command line (a systemd unit, a compose file, a Kubernetes manifest) runs unchanged
 * once quorumlite is installed. Every argument goes to serve as is.
 */
import { runCli } from './main.js';

runCli(['serve', ...process.argv.slice(2)]).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`rqlited: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
