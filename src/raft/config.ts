/** Checks a RaftConfig once, at construction, so a bad limit fails loudly and early. */
import { RaftError } from './errors.js';
import type { RaftConfig } from './types.js';

export const DEFAULT_LEASE_DRIFT_TICKS = 1;
export const DEFAULT_MAX_COMMITTED_BYTES_PER_READY = 64 * 1024 * 1024;
export const DEFAULT_MAX_QUEUED_MESSAGES = 10_000;

export interface ValidatedConfig extends RaftConfig {
  readonly leaseDriftTicks: number;
  readonly maxCommittedBytesPerReady: number;
  readonly maxQueuedMessages: number;
}

function invalid(message: string): never {
  throw new RaftError('INVALID_CONFIG', message);
}

function requireInteger(name: string, value: unknown, minimum: number): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) invalid(`${name} must be an integer, got ${String(value)}`);
  if (value < minimum) invalid(`${name} must be >= ${minimum}, got ${value}`);
}

export function validateConfig(config: RaftConfig): ValidatedConfig {
  if (typeof config.id !== 'string' || config.id.length === 0) invalid('id must be a non-empty string');
  if (config.storage === undefined || config.storage === null) invalid('storage is required');
  if (typeof config.random !== 'function') invalid('random must be a function returning [0, 1)');
  requireInteger('applied', config.applied, 0);
  requireInteger('heartbeatTicks', config.heartbeatTicks, 1);
  requireInteger('electionTicks', config.electionTicks, 2);
  if (config.electionTicks <= config.heartbeatTicks) {
    invalid(`electionTicks (${config.electionTicks}) must be greater than heartbeatTicks (${config.heartbeatTicks})`);
  }
  requireInteger('maxSizePerMessageBytes', config.maxSizePerMessageBytes, 1);
  requireInteger('maxInflightMessages', config.maxInflightMessages, 1);
  requireInteger('maxInflightBytes', config.maxInflightBytes, 1);
  if (config.maxInflightBytes < config.maxSizePerMessageBytes) {
    invalid(`maxInflightBytes (${config.maxInflightBytes}) must be >= maxSizePerMessageBytes (${config.maxSizePerMessageBytes})`);
  }
  requireInteger('maxUncommittedEntriesBytes', config.maxUncommittedEntriesBytes, 1);
  requireInteger('maxPendingReads', config.maxPendingReads, 1);
  const maxCommittedBytesPerReady = config.maxCommittedBytesPerReady ?? DEFAULT_MAX_COMMITTED_BYTES_PER_READY;
  requireInteger('maxCommittedBytesPerReady', maxCommittedBytesPerReady, 1);
  const maxQueuedMessages = config.maxQueuedMessages ?? DEFAULT_MAX_QUEUED_MESSAGES;
  requireInteger('maxQueuedMessages', maxQueuedMessages, 1);
  if (config.readOnly !== 'safe' && config.readOnly !== 'lease') invalid(`readOnly must be 'safe' or 'lease'`);
  if (config.readOnly === 'lease' && !config.checkQuorum) invalid(`readOnly 'lease' requires checkQuorum`);
  const leaseDriftTicks = config.leaseDriftTicks ?? DEFAULT_LEASE_DRIFT_TICKS;
  requireInteger('leaseDriftTicks', leaseDriftTicks, 0);
  if (leaseDriftTicks >= config.electionTicks) {
    invalid(`leaseDriftTicks (${leaseDriftTicks}) must be less than electionTicks (${config.electionTicks})`);
  }
  if (typeof config.preVote !== 'boolean') invalid('preVote must be a boolean');
  if (typeof config.checkQuorum !== 'boolean') invalid('checkQuorum must be a boolean');
  return { ...config, leaseDriftTicks, maxCommittedBytesPerReady, maxQueuedMessages };
}
