/**
 * Assertions: checks of what must hold in a correct program. They stay on in
 * production; a failed one is a programmer error (never the user's input, never the
 * disk or the network), so no caller catches it to carry on. Split compound conditions
 * into one assert each, so the message names the one that failed.
 */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}
