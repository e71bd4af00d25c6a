import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeCommand } from '../../src/state-machine/command-codec.js';
import { isLoadEntry } from '../../src/state-machine/load-entries.js';
import type { SqliteStateMachine } from '../../src/state-machine/state-machine.js';
import type { Command, SqlValue, Statement, StatementResult } from '../../src/state-machine/types.js';

export function statement(sql: string, ...positional: SqlValue[]): Statement {
  return { sql, positional, named: {} };
}

export function namedStatement(sql: string, named: Record<string, SqlValue>, positional: SqlValue[] = []): Statement {
  return { sql, positional, named };
}

export interface CommandOptions {
  readonly transaction?: boolean;
  readonly timestampMs?: number;
  readonly seed?: bigint;
  readonly requestId?: string;
}

export function command(statements: readonly (Statement | string)[], options: CommandOptions = {}): Command {
  return {
    statements: statements.map((item) => (typeof item === 'string' ? statement(item) : item)),
    transaction: options.transaction ?? false,
    timestampMs: options.timestampMs ?? 1_700_000_000_123,
    seed: options.seed ?? 42n,
    ...(options.requestId !== undefined ? { requestId: options.requestId } : {}),
  };
}

export function entry(statements: readonly (Statement | string)[], options: CommandOptions = {}): Uint8Array {
  return encodeCommand(command(statements, options));
}

/** A temp directory removed by the returned cleanup, even when the test failed. */
export function temporaryDirectory(label: string): { readonly path: string; readonly cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), `quorumlite-sm-${label}-`));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** Applies entries from `firstIndex` on as the node does: a load's entries through loads.apply, the others one by one; each entry's results. */
export async function applyEntries(
  machine: Pick<SqliteStateMachine, 'apply' | 'loads'>,
  entries: readonly Uint8Array[],
  firstIndex = 1,
): Promise<StatementResult[][]> {
  const results: StatementResult[][] = [];
  for (const [position, data] of entries.entries()) {
    const index = firstIndex + position;
    const outcome = isLoadEntry(data) ? (await machine.loads.apply([{ index, data }]))[0] : machine.apply(index, data);
    results.push([...(outcome?.results ?? [])]);
  }
  return results;
}
