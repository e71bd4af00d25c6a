/** A bad command line: the CLI prints the message and exits 2 (Go's flag package exits 2 too). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
