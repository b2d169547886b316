// SHA-256 of file contents, streamed in large blocks. `hashStats` counts real hashing work so that tests and
// benchmarks can check the stat cache saves it.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { open } from 'node:fs/promises';

export const hashStats = { files: 0, bytes: 0 };

const BLOCK = 4 * 1024 * 1024;
/** Read buffers kept for the next file; as many as files hashed at once (hashDir's concurrency). */
const MAX_SPARE_BUFFERS = 8;
const spareBuffers: Buffer[] = [];

export interface HashOptions {
  /** Also flush the file to disk while it is open (used when committing an entry). */
  fsync?: boolean;
}

/** Hex SHA-256 of a file's content. */
export async function sha256File(path: string, options: HashOptions = {}): Promise<{ sha256: string; size: number }> {
  const handle = await open(path, 'r');
  // Reused: a fresh 4 MiB buffer per file made hashing a tree of 60,000 small images spend most of its time in GC.
  const buffer = spareBuffers.pop() ?? Buffer.allocUnsafe(BLOCK);
  try {
    const hash = createHash('sha256');
    let size = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, BLOCK, null);
      if (bytesRead === 0) break;
      hash.update(bytesRead === BLOCK ? buffer : buffer.subarray(0, bytesRead));
      size += bytesRead;
    }
    if (options.fsync) await handle.sync();
    hashStats.files += 1;
    hashStats.bytes += size;
    return { sha256: hash.digest('hex'), size };
  } finally {
    if (spareBuffers.length < MAX_SPARE_BUFFERS) spareBuffers.push(buffer);
    await handle.close();
  }
}

/** Hex HMAC-SHA256 of `text` under `key`: what signs remote cache entries and queue jobs. */
export function hmacSha256(key: string, text: string): string {
  return createHmac('sha256', key).update(text).digest('hex');
}

/** True when `signature` is the HMAC of `text` under `key` (compared in constant time). */
export function hmacMatches(key: string, text: string, signature: string): boolean {
  // Buffer.from(…, 'hex') stops at the first non-hex character: only a whole digest may compare.
  if (!/^[0-9a-f]{64}$/.test(signature)) return false;
  return timingSafeEqual(Buffer.from(signature, 'hex'), Buffer.from(hmacSha256(key, text), 'hex'));
}
