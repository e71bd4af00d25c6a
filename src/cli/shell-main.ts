#!/usr/bin/env node
/** Runs `quorumlite shell` on its own (until the CLI's main.ts dispatches to runShell). */
import { runShell } from './shell.js';

process.exitCode = await runShell(process.argv.slice(2));
