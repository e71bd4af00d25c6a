/**
 * The files resumable snapshot transfers leave behind (snapshot-receiver.ts): one per
 * sender, named by the sender and the transfer's resume key, so the next attempt of the
 * same transfer finds it, and a transfer of another file from that sender replaces it.
 */
import { createHash, type Hash } from 'node:crypto';
import { open, readdir, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

const partialPrefix = 'partial-';
const readBytes = 1 << 20;

/** A partial file opened to go on: its handle, how many bytes it holds, and their SHA-256 so far. */
export interface OpenedPartial {
  readonly handle: FileHandle;
  readonly offset: number;
  readonly prefixHash: Hash;
}

function nameHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 24);
}

/** The partial file of `resumeKey` from `senderId` in `directory`. */
export function partialPath(directory: string, senderId: string, resumeKey: string): string {
  return join(directory, `${partialPrefix}${nameHash(senderId)}-${nameHash(resumeKey)}.snapshot`);
}

/**
 * Opens (creating it if needed) the partial file of this transfer, after removing the
 * sender's others; a file longer than `totalBytes` cannot be this transfer's prefix and
 * starts over. The prefix is hashed in bounded reads.
 */
export async function openPartial(directory: string, senderId: string, resumeKey: string, totalBytes: number): Promise<OpenedPartial> {
  const path = partialPath(directory, senderId, resumeKey);
  const senderPrefix = `${partialPrefix}${nameHash(senderId)}-`;
  for (const name of await readdir(directory)) {
    if (name.startsWith(senderPrefix) && join(directory, name) !== path) await rm(join(directory, name), { force: true });
  }
  await (await open(path, 'a', 0o600)).close();
  const handle = await open(path, 'r+');
  try {
    let size = (await handle.stat()).size;
    if (size > totalBytes) {
      await handle.truncate(0);
      size = 0;
    }
    const prefixHash = createHash('sha256');
    const buffer = Buffer.allocUnsafe(readBytes);
    let offset = 0;
    // Each pass reads at least one byte or stops: it ends within size / 1 passes.
    while (offset < size) {
      const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, size - offset), offset);
      if (bytesRead === 0) break;
      prefixHash.update(buffer.subarray(0, bytesRead));
      offset += bytesRead;
    }
    return { handle, offset, prefixHash };
  } catch (error) {
    await handle.close();
    throw error;
  }
}
