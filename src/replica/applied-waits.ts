/** Reads waiting until the replica's file applied an index: each bounded by its own timeout, released in index order. */
interface Wait {
  readonly index: number;
  readonly settle: (reached: boolean) => void;
}

export class AppliedWaits {
  #waits: Wait[] = [];

  /** Resolves true once advance() reaches `index`, false after `timeoutMs`, on `signal`, or on failAll(). */
  wait(index: number, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const settle = (reached: boolean): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', abandon);
        this.#waits = this.#waits.filter((wait) => wait !== entry);
        resolve(reached);
      };
      const abandon = (): void => settle(false);
      const entry: Wait = { index, settle };
      const timer = setTimeout(abandon, timeoutMs);
      signal?.addEventListener('abort', abandon, { once: true });
      this.#waits.push(entry);
    });
  }

  advance(appliedIndex: number): void {
    for (const wait of this.#waits.filter((candidate) => candidate.index <= appliedIndex)) wait.settle(true);
  }

  failAll(): void {
    for (const wait of [...this.#waits]) wait.settle(false);
  }
}
