/**
 * Peer reports (unreachable, disconnected) arrive in a later turn, never inside the call
 * that found them: the runtime may call into its Raft core from the handler, which must
 * not happen in the middle of its Ready loop. One report per peer per turn, however many
 * messages were dropped. `currentHandler` is read at delivery (undefined once closed).
 */
export class PeerReports {
  private readonly pending = new Set<string>();
  private scheduled: NodeJS.Immediate | undefined;

  constructor(
    private readonly currentHandler: () => ((id: string) => void) | undefined,
    private readonly reportError: (error: Error) => void,
  ) {}

  add(id: string): void {
    this.pending.add(id);
    this.scheduled ??= setImmediate(() => this.deliver());
  }

  cancel(): void {
    if (this.scheduled !== undefined) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    this.pending.clear();
  }

  private deliver(): void {
    this.scheduled = undefined;
    const ids = [...this.pending];
    this.pending.clear();
    const handler = this.currentHandler();
    if (handler === undefined) return;
    for (const id of ids) {
      try {
        handler(id);
      } catch (error) {
        this.reportError(error instanceof Error ? error : new Error(String(error)));
      }
    }
  }
}
