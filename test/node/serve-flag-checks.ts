/** What the serve-flag tests ask of the parser: options for a command line, or a UsageError matching a pattern. */
import assert from 'node:assert/strict';
import { parseServeFlags, type ServeOptions, UsageError } from '../../src/cli/serve-flags.js';

export function parsed(argv: string[]): ServeOptions {
  const options = parseServeFlags(argv);
  assert.ok(typeof options === 'object', `expected options for ${argv.join(' ')}, got ${String(options)}`);
  return options;
}

export function refused(argv: string[], pattern: RegExp): void {
  assert.throws(
    () => parseServeFlags(argv),
    (error: unknown) => {
      assert.ok(error instanceof UsageError, `expected a UsageError for ${argv.join(' ')}, got ${String(error)}`);
      assert.match(error.message, pattern);
      return true;
    },
  );
}
