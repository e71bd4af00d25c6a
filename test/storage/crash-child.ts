/**
 * Child process for crash.test.ts. Opens the store, then issues saves (appends,
 * truncating appends, hard-state changes, installed snapshots) and compactions forever.
 * Before each it prints `issue <id> <json>`, after it is durable `ok <id> <segment>
 * <bytes>` (stdout to a pipe is synchronous on Linux, so a printed line was written
 * before the next step). The parent SIGKILLs it, and may then simulate a power loss
 * beyond the acknowledged bytes.
 */
import { DurableStorage } from '../../src/storage/durable-storage.js';
import type { Entry, HardState } from '../../src/raft/types.js';
import { crashEntryData } from './crash-model.js';

const [directory, seedText, segmentBytesText] = process.argv.slice(2);
let seed = Number(seedText) >>> 0 || 1;
function random(): number {
  seed = (seed * 1664525 + 1013904223) >>> 0;
  return seed / 0x1_0000_0000;
}
function randomInt(low: number, high: number): number {
  return low + Math.floor(random() * (high - low + 1));
}

const operationsMax = 1_000_000;
let nextId = 0;

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

let store: DurableStorage;

/** `ok <id> <segment> <bytes>`: the save is durable, and so is the active segment up to <bytes>. */
function acknowledge(id: number): void {
  const stats = store.stats();
  print(`ok ${id} ${stats.activeSegmentSequence} ${stats.activeSegmentBytes}`);
}

function makeEntries(first: number, count: number, term: number): Entry[] {
  return Array.from({ length: count }, (_, offset) => ({ index: first + offset, term, type: 'normal' as const, data: crashEntryData(first + offset, term) }));
}

async function main(): Promise<void> {
  store = await DurableStorage.open(directory!, { segmentBytesMax: Number(segmentBytesText) });
  let last = store.lastIndex();
  let hardState: HardState = store.initialState().hardState;
  let term = Math.max(hardState.term, store.term(last), 1);
  print(`ready ${last} ${store.stats().activeSegmentSequence} ${store.stats().activeSegmentBytes}`);
  for (let operation = 0; operation < operationsMax; operation++) {
    const choice = random();
    if (choice < 0.1 && last > hardState.commit) {
      term++;
      const at = randomInt(hardState.commit + 1, last);
      const count = randomInt(1, 5);
      hardState = { term, vote: '', commit: hardState.commit };
      const id = nextId++;
      print(`issue ${id} ${JSON.stringify({ type: 'save', first: at, count, term, hardState })}`);
      await store.save({ entries: makeEntries(at, count, term), hardState });
      acknowledge(id);
      last = at + count - 1;
    } else if (choice < 0.12) {
      term++;
      const index = last + randomInt(1, 50);
      hardState = { term, vote: '', commit: index };
      const id = nextId++;
      print(`issue ${id} ${JSON.stringify({ type: 'install', index, term, hardState })}`);
      const metadata = { index, term, confState: { voters: ['n1'], learners: [] } };
      await store.save({ snapshot: { metadata, data: new Uint8Array([index % 256]) }, hardState });
      acknowledge(id);
      last = index;
    } else if (choice < 0.17 && hardState.commit - (store.firstIndex() - 1) > 10) {
      const snapshotIndex = hardState.commit;
      await store.snapshots.writeBytes(
        { index: snapshotIndex, term: store.term(snapshotIndex), confState: { voters: ['n1'], learners: [] } },
        new Uint8Array([1]),
      );
      const compactIndex = snapshotIndex - randomInt(0, 5);
      const id = nextId++;
      print(`issue ${id} ${JSON.stringify({ type: 'compact', index: compactIndex })}`);
      await store.compact(compactIndex);
      acknowledge(id);
    } else {
      const group = randomInt(1, 4);
      const saves: Promise<void>[] = [];
      for (let member = 0; member < group; member++) {
        const count = randomInt(1, 16);
        const commit = Math.max(hardState.commit, Math.min(last, hardState.commit + randomInt(0, 8)));
        hardState = { term, vote: '', commit };
        const id = nextId++;
        print(`issue ${id} ${JSON.stringify({ type: 'save', first: last + 1, count, term, hardState })}`);
        saves.push(store.save({ entries: makeEntries(last + 1, count, term), hardState }).then(() => acknowledge(id)));
        last += count;
      }
      await Promise.all(saves);
    }
  }
}

main().catch((error: unknown) => {
  print(`error ${error instanceof Error ? error.stack : String(error)}`);
  process.exit(2);
});
