/** The embedded replicas' feed on a node (src/node/log-streams.ts), wired to its log, store and database. */
import { defaultLogStreamSettings, NodeLogStreams, type LogStreamSettings } from '../node/log-streams.js';
import type { NodeConfig } from '../node/config.js';
import type { NodeRuntime } from '../node/runtime.js';
import { TransferFiles } from '../node/transfer-files.js';
import type { MultiDatabaseMachine } from '../state-machine/multi-database-machine.js';
import type { DurableStorage } from '../storage/durable-storage.js';

export function createLogStreams(
  settings: Partial<LogStreamSettings> | undefined,
  parts: { config: NodeConfig; storage: DurableStorage; stateMachine: MultiDatabaseMachine; runtime: NodeRuntime },
): NodeLogStreams {
  const { config, storage, stateMachine, runtime } = parts;
  return new NodeLogStreams({
    log: runtime,
    entries: (low, high, bytesMax) => storage.entries(low, high, bytesMax),
    lastLogIndex: () => storage.lastIndex(),
    database: (name) => stateMachine.database(name),
    foreignKeys: config.foreignKeys,
    // The transfers' scratch directory (transfer-files.ts): copies are made there, removed once sent.
    files: new TransferFiles(config.dataDirectory),
    servedBy: config.raftAdvertisedAddress,
    settings: { ...defaultLogStreamSettings, ...settings },
  });
}
