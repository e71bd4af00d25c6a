/** Checks a RaftConfig once, at construction, so a bad limit fails loudly and early. */
import { RaftError } from './errors.js';
import type { RaftConfig } from './types.js';

const leaseDriftTicksDefault = 1;
const committedBytesPerReadyMaxDefault = 64 * 1024 * 1024;
const queuedMessageCountMaxDefault = 10_000;

export interface ValidatedConfig extends RaftConfig {
  readonly candidateElectionTicks: number;
  readonly leaseDriftTicks: number;
  readonly committedBytesPerReadyMax: number;
  readonly queuedMessageCountMax: number;
  readonly asyncStorageWrites: boolean;
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
  const candidateElectionTicks = config.candidateElectionTicks ?? config.electionTicks;
  requireInteger('candidateElectionTicks', candidateElectionTicks, config.electionTicks);
  const limits = validateLimits(config);
  const leaseDriftTicks = validateReads(config);
  if (typeof config.preVote !== 'boolean') invalid('preVote must be a boolean');
  if (typeof config.checkQuorum !== 'boolean') invalid('checkQuorum must be a boolean');
  const asyncStorageWrites = config.asyncStorageWrites ?? false;
  if (typeof asyncStorageWrites !== 'boolean') invalid('asyncStorageWrites must be a boolean');
  return { ...config, ...limits, candidateElectionTicks, leaseDriftTicks, asyncStorageWrites };
}

/** The bounds on messages, flight windows and queues, with the optional ones defaulted. */
function validateLimits(config: RaftConfig): Pick<ValidatedConfig, 'committedBytesPerReadyMax' | 'queuedMessageCountMax'> {
  requireInteger('messageBytesMax', config.messageBytesMax, 1);
  requireInteger('inflightMessageCountMax', config.inflightMessageCountMax, 1);
  requireInteger('inflightBytesMax', config.inflightBytesMax, 1);
  if (config.inflightBytesMax < config.messageBytesMax) {
    invalid(`inflightBytesMax (${config.inflightBytesMax}) must be >= messageBytesMax (${config.messageBytesMax})`);
  }
  requireInteger('uncommittedEntriesBytesMax', config.uncommittedEntriesBytesMax, 1);
  requireInteger('pendingReadCountMax', config.pendingReadCountMax, 1);
  const committedBytesPerReadyMax = config.committedBytesPerReadyMax ?? committedBytesPerReadyMaxDefault;
  requireInteger('committedBytesPerReadyMax', committedBytesPerReadyMax, 1);
  const queuedMessageCountMax = config.queuedMessageCountMax ?? queuedMessageCountMaxDefault;
  requireInteger('queuedMessageCountMax', queuedMessageCountMax, 1);
  return { committedBytesPerReadyMax, queuedMessageCountMax };
}

/** The read mode and the lease's drift margin (defaulted), which must be below electionTicks. */
function validateReads(config: RaftConfig): number {
  if (config.readOnly !== 'safe' && config.readOnly !== 'lease') invalid(`readOnly must be 'safe' or 'lease'`);
  if (config.readOnly === 'lease' && !config.checkQuorum) invalid(`readOnly 'lease' requires checkQuorum`);
  const leaseDriftTicks = config.leaseDriftTicks ?? leaseDriftTicksDefault;
  requireInteger('leaseDriftTicks', leaseDriftTicks, 0);
  if (leaseDriftTicks >= config.electionTicks) {
    invalid(`leaseDriftTicks (${leaseDriftTicks}) must be less than electionTicks (${config.electionTicks})`);
  }
  return leaseDriftTicks;
}
