/**
 * Peer reports (unreachable, disconnected) arrive in a later turn, never inside the call
 * that found them: the runtime may call into its Raft core from the handler, which must
 * not happen in the middle of its Ready loop. One report per peer per turn, however many
 * messages were dropped. `currentHandler` is read at delivery (undefined once closed).
 */
export class PeerReports {
  readonly #pending = new Set<string>();
  #scheduled: NodeJS.Immediate | undefined;
  readonly #currentHandler: () => ((id: string) => void) | undefined;
  readonly #reportError: (error: Error) => void;

  constructor(currentHandler: () => ((id: string) => void) | undefined, reportError: (error: Error) => void) {
    this.#currentHandler = currentHandler;
    this.#reportError = reportError;
  }

  add(id: string): void {
    this.#pending.add(id);
    this.#scheduled ??= setImmediate(() => this.#deliver());
  }

  cancel(): void {
    if (this.#scheduled !== undefined) clearImmediate(this.#scheduled);
    this.#scheduled = undefined;
    this.#pending.clear();
  }

  #deliver(): void {
    this.#scheduled = undefined;
    const ids = [...this.#pending];
    this.#pending.clear();
    const handler = this.#currentHandler();
    if (handler === undefined) return;
    for (const id of ids) {
      try {
        handler(id);
      } catch (error) {
        this.#reportError(error instanceof Error ? error : new Error(String(error)));
      }
    }
  }
}
