/**
 * The node's recent state changes, for operators: every one is logged at info or above
 * with structured fields (its `event` names it), and the newest `eventCountMax` are kept
 * in a ring that /status shows under `events` (and the web console lists). Recorded by
 * wrapping the runtime's logger, so each place that reports a change needs nothing more.
 */
import type { NodeLogger } from './logger.js';

/** The log events that are state changes of the node (others, such as a retried join, are not kept). */
const stateChangeEvents = new Set([
  'bootstrap',
  'joined',
  'elected',
  'stepped-down',
  'leader-changed',
  'leadership-transfer',
  'membership-changed',
  'removed-from-cluster',
  'snapshot',
  'snapshot-failed',
  'snapshot-installed',
  'snapshot-restore',
  'booted',
  'halted',
  'resumed',
  'fatal',
  'stop',
]);

export const eventCountMaxDefault = 100;
/** A field's text is cut here: an error's stack must not fill the ring. */
const fieldTextLengthMax = 300;

interface NodeEvent {
  /** Wall clock, ISO 8601. */
  readonly time: string;
  readonly level: 'info' | 'warn' | 'error';
  readonly event: string;
  readonly message: string;
  /** The log line's other fields (numbers, ids, short texts). */
  readonly fields: Readonly<Record<string, string | number | boolean | null>>;
}

export class RecentEvents {
  readonly #eventCountMax: number;
  readonly #events: NodeEvent[] = [];
  #recordedCount = 0;

  constructor(eventCountMax = eventCountMaxDefault) {
    if (!(Number.isInteger(eventCountMax) && eventCountMax > 0)) throw new Error('eventCountMax must be a positive integer');
    this.#eventCountMax = eventCountMax;
  }

  record(event: NodeEvent): void {
    this.#events.push(event);
    this.#recordedCount++;
    if (this.#events.length > this.#eventCountMax) this.#events.shift();
  }

  /** Oldest first. */
  list(): readonly NodeEvent[] {
    return [...this.#events];
  }

  /** Every event recorded since start, including those the ring dropped. */
  get recordedCount(): number {
    return this.#recordedCount;
  }
}

function plainFields(fields: Record<string, unknown>): Record<string, string | number | boolean | null> {
  const plain: Record<string, string | number | boolean | null> = {};
  for (const [name, value] of Object.entries(fields)) {
    if (name === 'event' || name === 'stack') continue;
    if (typeof value === 'number' || typeof value === 'boolean' || value === null) plain[name] = value;
    else if (value !== undefined) {
      const text = typeof value === 'string' ? value : JSON.stringify(value);
      plain[name] = text.length > fieldTextLengthMax ? `${text.slice(0, fieldTextLengthMax)}…` : text;
    }
  }
  return plain;
}

/** `logger`, which also records the state changes it is told of in `events` (`nowMs`: wall clock). */
export function recordingLogger(logger: NodeLogger, events: RecentEvents, nowMs: () => number): NodeLogger {
  const keep = (level: NodeEvent['level'], fields: Record<string, unknown>, message: string): void => {
    const event = fields['event'];
    if (typeof event !== 'string' || !stateChangeEvents.has(event)) return;
    // A halt retries (and logs) every haltRetryIntervalMs: only its first attempt is a change of state, so a long halt does not fill the ring.
    if (event === 'halted' && typeof fields['attempt'] === 'number' && fields['attempt'] > 1) return;
    events.record({ time: new Date(nowMs()).toISOString(), level, event, message, fields: plainFields(fields) });
  };
  return {
    debug: (fields, message) => logger.debug(fields, message),
    info: (fields, message) => {
      logger.info(fields, message);
      keep('info', fields, message);
    },
    warn: (fields, message) => {
      logger.warn(fields, message);
      keep('warn', fields, message);
    },
    error: (fields, message) => {
      logger.error(fields, message);
      keep('error', fields, message);
    },
  };
}
