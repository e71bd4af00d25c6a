/**
 * What the list-append checker learns from reads alone, before any graph: who appended
 * each element, what each read saw, the version order of each key (its longest read, of
 * which every other read must be a prefix) and the anomalies visible in a single read or a
 * single transaction (duplicates, garbage, aborted and intermediate reads, non-atomic
 * appends, internal inconsistency, incompatible orders, lost appends).
 */
import assert from 'node:assert/strict';
import type { ListAppendOperation, MicroOperation } from '../history.js';
import type { AnomalyLog } from './anomaly-log.js';

export interface Transaction {
  readonly record: ListAppendOperation;
  /** ok: the output (reads filled in); info and fail: the input (reads are null). */
  readonly microOperations: readonly MicroOperation[];
  /** Infinity for info: an unknown transaction may commit long after the client gave up. */
  readonly completeMs: number;
  /** Index in the dependency graph; -1 while (or when) it is not in it. */
  node: number;
}

export interface AppendSite {
  readonly transaction: Transaction;
  /** Whether this was the transaction's last append to the key (else a read ending here is an intermediate read). */
  readonly last: boolean;
  /** The transaction's append to the key just before this one: a read holding this must hold that earlier. */
  readonly previous: number | undefined;
}

export interface ReadObservation {
  readonly transaction: Transaction;
  readonly key: number;
  readonly list: readonly number[];
  /**
   * How much of the list the transaction read from others: the list without the
   * transaction's own earlier appends. Set only for its first read of the key, when the
   * read agrees with those appends; later reads add nothing about other transactions.
   */
  readonly externalLength: number | undefined;
  /** Whether the list is a prefix of the key's version order. */
  compatible: boolean;
}

export interface Observations {
  readonly transactions: readonly Transaction[];
  /** key → element → who appended it. */
  readonly appendSites: ReadonlyMap<number, ReadonlyMap<number, AppendSite>>;
  readonly reads: readonly ReadObservation[];
  /** key → its elements in commit order, as far as any read saw them. */
  readonly versionOrders: ReadonlyMap<number, readonly number[]>;
  /**
   * Acknowledged appends no read saw (those reported as lost appends aside): every read of
   * the key missed them, so every reader precedes their transaction.
   */
  readonly unobservedAppends: readonly UnobservedAppend[];
}

export interface UnobservedAppend {
  readonly transaction: Transaction;
  readonly key: number;
  readonly element: number;
}

export function observe(operations: readonly ListAppendOperation[], log: AnomalyLog, realtime: boolean): Observations {
  const transactions = operations.map(toTransaction);
  const appendSites = indexAppends(transactions);
  const reads: ReadObservation[] = [];
  for (const transaction of transactions) {
    if (transaction.record.outcome === 'ok') reads.push(...readsOf(transaction, log));
  }
  for (const read of reads) checkReadContents(read, appendSites, log);
  const versionOrders = inferVersionOrders(reads, log);
  const unobserved = findUnobservedAppends(transactions, versionOrders);
  const lost = realtime ? reportLostAppends(unobserved, reads, log) : new Set<UnobservedAppend>();
  return { transactions, appendSites, reads, versionOrders, unobservedAppends: unobserved.filter((append) => !lost.has(append)) };
}

function toTransaction(record: ListAppendOperation): Transaction {
  const known = record.outcome === 'ok';
  if (known) assert.ok(record.output !== undefined, `transaction ${record.id} is ok but has no output`);
  const microOperations = known ? (record.output as readonly MicroOperation[]) : record.input;
  return { record, microOperations, completeMs: record.outcome === 'info' ? Infinity : record.completeMs, node: -1 };
}

function indexAppends(transactions: readonly Transaction[]): Map<number, Map<number, AppendSite>> {
  const sites = new Map<number, Map<number, AppendSite>>();
  for (const transaction of transactions) {
    const lastAppendIndex = new Map<number, number>();
    const previousAppend = new Map<number, number>();
    transaction.microOperations.forEach((micro, index) => {
      if (micro[0] === 'append') lastAppendIndex.set(micro[1], index);
    });
    transaction.microOperations.forEach((micro, index) => {
      if (micro[0] !== 'append') return;
      const [, key, element] = micro;
      const ofKey = sites.get(key) ?? new Map<number, AppendSite>();
      sites.set(key, ofKey);
      // The generator makes elements unique per key; without that no read can be traced.
      assert.ok(
        !ofKey.has(element),
        `element ${element} is appended to key ${key} twice (transactions ${ofKey.get(element)?.transaction.record.id} and ${transaction.record.id})`,
      );
      ofKey.set(element, { transaction, last: lastAppendIndex.get(key) === index, previous: previousAppend.get(key) });
      previousAppend.set(key, element);
    });
  }
  return sites;
}

/**
 * The transaction's reads, checked against its own operations: a read sees exactly what
 * its earlier read of the key saw plus its appends since, or, before any read, ends with
 * its appends so far; and never an element the transaction appends only later.
 */
function readsOf(transaction: Transaction, log: AnomalyLog): ReadObservation[] {
  const reads: ReadObservation[] = [];
  const known = new Map<number, number[]>();
  const appended = new Map<number, number[]>();
  const future = new Set(transaction.microOperations.flatMap((micro) => (micro[0] === 'append' ? [`${micro[1]}:${micro[2]}`] : [])));
  for (const micro of transaction.microOperations) {
    const key = micro[1];
    if (micro[0] === 'append') {
      const list = known.get(key) ?? appended.get(key) ?? [];
      list.push(micro[2]);
      (known.has(key) ? known : appended).set(key, list);
      future.delete(`${key}:${micro[2]}`);
      continue;
    }
    assert.ok(micro[2] !== null, `transaction ${transaction.record.id} is ok but its read of key ${key} has no value`);
    const list = micro[2];
    const expected = known.get(key);
    const ownAppends = appended.get(key) ?? [];
    const early = list.find((element) => future.has(`${key}:${element}`));
    const consistent = early === undefined && (expected !== undefined ? sameList(list, expected) : endsWith(list, ownAppends));
    if (!consistent) {
      const implied = expected !== undefined ? `exactly ${listText(expected)}` : `a list ending with ${listText(ownAppends)}`;
      const problem = early !== undefined ? `it holds ${early}, which the transaction appends only later` : `its own earlier operations imply ${implied}`;
      log.add('internal', `T${transaction.record.id} read key ${key} as ${listText(list)}, but ${problem}\n  ${describeTransaction(transaction)}`, [
        transaction.record.id,
      ]);
    }
    const externalLength = expected === undefined && consistent ? list.length - ownAppends.length : undefined;
    reads.push({ transaction, key, list, externalLength, compatible: true });
    known.set(key, [...list]);
  }
  return reads;
}

function checkReadContents(read: ReadObservation, appendSites: ReadonlyMap<number, ReadonlyMap<number, AppendSite>>, log: AnomalyLog): void {
  const reader = read.transaction;
  const header = `T${reader.record.id} read key ${read.key} as ${listText(read.list)}`;
  const positions = new Map<number, number>();
  read.list.forEach((element, position) => {
    if (positions.has(element)) log.add('duplicate-elements', `${header}: element ${element} appears twice`, [reader.record.id]);
    else positions.set(element, position);
  });
  const sites = appendSites.get(read.key);
  read.list.forEach((element, position) => {
    const site = sites?.get(element);
    if (site === undefined) {
      log.add('garbage', `${header}: no transaction appended element ${element}`, [reader.record.id]);
      return;
    }
    const writer = site.transaction;
    const ids = [reader.record.id, writer.record.id];
    if (writer.record.outcome === 'fail') {
      log.add('G1a', `${header}: element ${element} was appended by T${writer.record.id}, which failed (aborted read)\n  ${describeTransaction(writer)}`, ids);
    } else if (site.previous !== undefined && !((positions.get(site.previous) ?? Infinity) < position)) {
      // A transaction's appends to a key commit together and in order.
      const problem = `it holds ${element} but not, before it, ${site.previous}, which T${writer.record.id} appended first`;
      log.add('non-atomic-appends', `${header}: ${problem}\n  ${describeTransaction(writer)}`, ids);
    }
  });
  const lastElement = read.list.at(-1);
  const lastSite = lastElement === undefined ? undefined : sites?.get(lastElement);
  if (lastSite !== undefined && lastSite.transaction !== reader && !lastSite.last) {
    const writer = lastSite.transaction;
    const problem = `it ends with ${lastElement}, which T${writer.record.id} appended before another append to the same key (intermediate read)`;
    log.add('G1b', `${header}: ${problem}\n  ${describeTransaction(writer)}`, [reader.record.id, writer.record.id]);
  }
}

/** Each key's longest read is its version order; every other read must be a prefix of it. */
function inferVersionOrders(reads: readonly ReadObservation[], log: AnomalyLog): Map<number, readonly number[]> {
  const longest = new Map<number, ReadObservation>();
  for (const read of reads) {
    const current = longest.get(read.key);
    if (current === undefined || read.list.length > current.list.length) longest.set(read.key, read);
  }
  for (const read of reads) {
    const order = longest.get(read.key) as ReadObservation;
    if (isPrefix(read.list, order.list)) continue;
    read.compatible = false;
    const text =
      `key ${read.key}: T${read.transaction.record.id} read ${listText(read.list)}, which is not a prefix of ${listText(order.list)}, ` +
      `read by T${order.transaction.record.id}: the two disagree on the order of appends`;
    log.add('incompatible-order', text, [read.transaction.record.id, order.transaction.record.id]);
  }
  return new Map([...longest.entries()].map(([key, read]) => [key, read.list]));
}

/**
 * Appends of committed transactions (ok, or info with another append seen) missing from
 * every key's version order: no read saw them.
 */
function findUnobservedAppends(transactions: readonly Transaction[], versionOrders: ReadonlyMap<number, readonly number[]>): UnobservedAppend[] {
  const observed = new Map([...versionOrders.entries()].map(([key, order]) => [key, new Set(order)]));
  const unobserved: UnobservedAppend[] = [];
  for (const transaction of transactions) {
    if (transaction.record.outcome === 'fail') continue;
    const appends = transaction.microOperations.filter((micro) => micro[0] === 'append');
    const missed = appends.filter((micro) => observed.get(micro[1])?.has(micro[2]) !== true);
    if (transaction.record.outcome === 'info' && missed.length === appends.length) continue;
    for (const micro of missed) unobserved.push({ transaction, key: micro[1], element: micro[2] as number });
  }
  return unobserved;
}

/**
 * Under real time, an acknowledged append is visible to every read that begins after it
 * completes. One that no read saw, though a read of its key began after it completed, is
 * a lost append (the graph would show it as a cycle too; this says it plainly).
 */
function reportLostAppends(unobserved: readonly UnobservedAppend[], reads: readonly ReadObservation[], log: AnomalyLog): Set<UnobservedAppend> {
  const latestReadOfKey = new Map<number, ReadObservation>();
  for (const read of reads) {
    const current = latestReadOfKey.get(read.key);
    if (current === undefined || read.transaction.record.invokeMs > current.transaction.record.invokeMs) latestReadOfKey.set(read.key, read);
  }
  const lost = new Set<UnobservedAppend>();
  for (const append of unobserved) {
    const { transaction, key, element } = append;
    const read = latestReadOfKey.get(key);
    if (read === undefined || read.transaction.record.invokeMs <= transaction.completeMs) continue;
    lost.add(append);
    const text =
      `T${transaction.record.id} appended ${element} to key ${key} and completed at ${transaction.completeMs} ms, but no read saw it, ` +
      `though T${read.transaction.record.id} began at ${read.transaction.record.invokeMs} ms and read ${listText(read.list)}`;
    log.add('lost-append', text, [transaction.record.id, read.transaction.record.id]);
  }
  return lost;
}

const microOperationsShownMax = 12;

/** `T12 (process 3, ok, 100–140 ms): append 1 5, r 2 [1, 4]`. */
export function describeTransaction(transaction: Transaction): string {
  const record = transaction.record;
  const shown = transaction.microOperations.slice(0, microOperationsShownMax).map(describeMicroOperation);
  const more = transaction.microOperations.length > microOperationsShownMax ? `, … ${transaction.microOperations.length - microOperationsShownMax} more` : '';
  const end = record.outcome === 'info' ? '?' : String(record.completeMs);
  return `T${record.id} (process ${record.process}, ${record.outcome}, ${record.invokeMs}–${end} ms): ${shown.join(', ')}${more}`;
}

function describeMicroOperation(micro: MicroOperation): string {
  return micro[0] === 'append' ? `append ${micro[1]} ${micro[2]}` : `r ${micro[1]} ${micro[2] === null ? '?' : listText(micro[2])}`;
}

const listElementsShownMax = 16;

export function listText(list: readonly number[]): string {
  if (list.length <= listElementsShownMax) return `[${list.join(', ')}]`;
  return `[… ${list.length - listElementsShownMax} more, ${list.slice(-listElementsShownMax).join(', ')}]`;
}

function sameList(left: readonly number[], right: readonly number[]): boolean {
  return left.length === right.length && isPrefix(left, right);
}

function isPrefix(prefix: readonly number[], list: readonly number[]): boolean {
  if (prefix.length > list.length) return false;
  for (let index = 0; index < prefix.length; index++) if (prefix[index] !== list[index]) return false;
  return true;
}

function endsWith(list: readonly number[], suffix: readonly number[]): boolean {
  if (suffix.length > list.length) return false;
  const offset = list.length - suffix.length;
  for (let index = 0; index < suffix.length; index++) if (list[offset + index] !== suffix[index]) return false;
  return true;
}
