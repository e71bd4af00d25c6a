#!/usr/bin/env node
// Placeholder entry until the CLI lands (issue: real cluster). Kept minimal so the
// package builds; replaced by the full `quorumlite serve|shell|…` command.
console.error('quorumlite: the CLI is being built; see README.md');
process.exit(2);
