/**
 * A one-line progress bar for long CLI work (`quorumlite restore`), drawn on a terminal
 * only: redrawn in place with a carriage return, at most every `redrawIntervalMs`, and
 * ended with a newline. On anything else (a pipe, a log file) it prints nothing.
 */

interface ProgressStream {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

const barWidth = 30;
const redrawIntervalMs = 100;

/** `[#########---------]  45%  450/1000 entries` */
export function progressLine(label: string, doneCount: number, totalCount: number): string {
  const fraction = totalCount <= 0 ? 1 : Math.min(1, Math.max(0, doneCount / totalCount));
  const filled = Math.round(fraction * barWidth);
  const percent = String(Math.floor(fraction * 100)).padStart(3, ' ');
  return `${label} [${'#'.repeat(filled)}${'-'.repeat(barWidth - filled)}] ${percent}%  ${doneCount}/${totalCount} entries`;
}

export class ProgressBar {
  readonly #stream: ProgressStream;
  readonly #enabled: boolean;
  #lastDrawMs = Number.NEGATIVE_INFINITY;
  #drawn = false;

  constructor(stream: ProgressStream) {
    this.#stream = stream;
    this.#enabled = stream.isTTY === true;
  }

  update(label: string, doneCount: number, totalCount: number, force = false): void {
    if (!this.#enabled) return;
    const nowMs = Date.now();
    if (!force && nowMs - this.#lastDrawMs < redrawIntervalMs) return;
    this.#lastDrawMs = nowMs;
    this.#stream.write(`\r\u001b[2K${progressLine(label, doneCount, totalCount)}`);
    this.#drawn = true;
  }

  finish(): void {
    if (this.#enabled && this.#drawn) this.#stream.write('\n');
    this.#drawn = false;
  }
}
