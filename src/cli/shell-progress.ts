/**
 * A progress bar for the shell's file transfers (`.backup`, `.dump`, `.restore`,
 * `.boot`), drawn on one terminal line and only on a terminal: nothing appears for a
 * transfer done within `quietMs`, nothing at all when the stream is not a TTY (a pipe or
 * a file gets exactly rqlite's output). It redraws on a timer too, so a node that is
 * still working after the last byte (a load committing) shows time passing, and the
 * line is erased at the end, before the command prints its result.
 */

/** A transfer shorter than this shows no bar. */
const quietMs = 1_000;
const redrawIntervalMs = 200;
const barCharacters = 24;
const mebibyte = 1024 * 1024;

function megabytes(bytes: number): string {
  return `${(bytes / mebibyte).toFixed(1)} MB`;
}

/** The bar's text: `label [#####-----]  45%  12.3 MB of 27.0 MB  8.1 MB/s  3s`; without a total, the bytes alone. */
export function progressLine(label: string, bytes: number, totalBytes: number | null, elapsedMs: number): string {
  const seconds = Math.max(elapsedMs / 1000, 0.001);
  const rate = `${megabytes(bytes / seconds)}/s`;
  const time = `${Math.floor(seconds)}s`;
  if (totalBytes === null || totalBytes === 0) return `${label}  ${megabytes(bytes)}  ${rate}  ${time}`;
  const fraction = Math.min(bytes / totalBytes, 1);
  const filled = Math.round(fraction * barCharacters);
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(barCharacters - filled)}]`;
  const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
  return `${label} ${bar} ${percent}  ${megabytes(bytes)} of ${megabytes(totalBytes)}  ${rate}  ${time}`;
}

export class TransferProgress {
  readonly #write: ((text: string) => void) | undefined;
  readonly #label: string;
  readonly #startedMs = performance.now();
  readonly #timer: NodeJS.Timeout | undefined;
  #totalBytes: number | null;
  #bytes = 0;
  #drawn = false;

  /** `write` is undefined when the terminal is no TTY: the meter then does nothing. */
  constructor(write: ((text: string) => void) | undefined, label: string, totalBytes: number | null) {
    this.#write = write;
    this.#label = label;
    this.#totalBytes = totalBytes;
    if (write === undefined) return;
    this.#timer = setInterval(() => this.#draw(), redrawIntervalMs);
    this.#timer.unref();
  }

  /** The total, once known (a download's Content-Length). */
  set totalBytes(bytes: number | null) {
    this.#totalBytes = bytes;
  }

  advance(byteCount: number): void {
    this.#bytes += byteCount;
  }

  #draw(): void {
    const elapsedMs = performance.now() - this.#startedMs;
    if (this.#write === undefined || elapsedMs < quietMs) return;
    this.#write(`\r\u001b[K${progressLine(this.#label, this.#bytes, this.#totalBytes, elapsedMs)}`);
    this.#drawn = true;
  }

  /** Stops the timer and erases the line, if one was drawn. */
  finish(): void {
    clearInterval(this.#timer);
    if (this.#drawn) this.#write?.('\r\u001b[K');
    this.#drawn = false;
  }
}
