// Streams a CSV file (plain or gzip, told apart by the magic bytes) through CsvImageParser.
// Gunzip runs on libuv's threadpool while the main thread parses the previous chunk, so on two cores the ingest
// takes about as long as gunzip alone.
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { PipeError } from '../errors.js';
import { CsvImageParser } from './csv-image-parser.js';
import type { CsvImageOptions, CsvRows, ParsedCsv } from './csv-image-parser.js';

export interface ReadProgress {
  /** Bytes of the file on disk read so far (compressed bytes for .gz). */
  fileBytesRead: number;
  fileBytes: number;
  rows: number;
  skipped: number;
}

export interface ReadCsvOptions extends Omit<CsvImageOptions, 'file' | 'expectedBytes'> {
  /** Name of the file in messages (defaults to the path). */
  displayName?: string;
  onProgress?: (p: ReadProgress) => void;
  signal?: AbortSignal;
  /**
   * With batchRows: takes each full batch as it is parsed (e.g. a dataset writer's append); reading waits for it,
   * so a slow writer holds the file back rather than memory filling up.
   */
  onBatch?: (rows: CsvRows) => Promise<void>;
}

export interface ReadCsvResult extends ParsedCsv {
  gzip: boolean;
  fileBytes: number;
}

/**
 * Chunks of 1 MiB: few enough iterations, small enough that gunzip and parsing overlap well. Gunzip may run up to
 * four chunks ahead of the parser, so neither waits for the other's short stalls (zlib passes stream options on
 * to its Transform; @types/node's ZlibOptions does not list them).
 */
const CHUNK = 1 << 20;

export async function readCsvDataset(path: string, options: ReadCsvOptions): Promise<ReadCsvResult> {
  const name = options.displayName ?? path;
  let fileBytes: number;
  let magic: Buffer;
  let isizeHint: number | undefined;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new PipeError(`${name} is not a file`, { hint: 'set path to a .csv or .csv.gz file' });
    fileBytes = info.size;
    const handle = await open(path, 'r');
    try {
      magic = Buffer.alloc(2);
      await handle.read(magic, 0, 2, 0);
      if (fileBytes >= 18 && magic[0] === 0x1f && magic[1] === 0x8b) {
        // The gzip trailer holds the uncompressed size mod 2^32: a hint to size the arrays once.
        const trailer = Buffer.alloc(4);
        await handle.read(trailer, 0, 4, fileBytes - 4);
        const isize = trailer.readUInt32LE(0);
        if (isize > fileBytes) isizeHint = isize;
      }
    } finally {
      await handle.close();
    }
  } catch (err) {
    if (err instanceof PipeError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new PipeError(`${name} does not exist`, { hint: 'check path (relative paths are resolved against the pipeline file\'s folder)', cause: err });
    throw new PipeError(`cannot read ${name}: ${(err as Error).message}`, { cause: err, exitCode: 1 });
  }
  const gzip = fileBytes >= 2 && magic[0] === 0x1f && magic[1] === 0x8b;
  const parser = new CsvImageParser({
    ...options,
    file: name,
    expectedBytes: gzip ? isizeHint : fileBytes,
  });

  const file = createReadStream(path, { highWaterMark: CHUNK });
  // pipeline() destroys every stream on error or early exit, so a bad row leaves no open file behind.
  const source: Readable = gzip
    ? pipeline(file, createGunzip({ chunkSize: CHUNK, ...{ readableHighWaterMark: 4 * CHUNK } }), () => {})
    : file;
  let lastReport = 0;
  // A failure while handing rows over is the taker's (e.g. a full disk), not the file's.
  let handingOver = false;
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      options.signal?.throwIfAborted();
      parser.push(chunk);
      if (options.onBatch) {
        handingOver = true;
        for (const rows of parser.takeBatches()) await options.onBatch(rows);
        handingOver = false;
      }
      const now = Date.now();
      if (options.onProgress && now - lastReport >= 250) {
        lastReport = now;
        options.onProgress({ fileBytesRead: file.bytesRead, fileBytes, rows: parser.rowsSoFar, skipped: parser.skippedSoFar });
      }
    }
  } catch (err) {
    source.destroy();
    if (err instanceof PipeError || options.signal?.aborted || handingOver) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (gzip && code.startsWith('Z_')) {
      throw new PipeError(`${name}: gzip data is corrupt or truncated (${(err as Error).message})`, {
        hint: 'download or compress the file again; `gzip -t FILE` checks it',
        cause: err,
      });
    }
    throw new PipeError(`cannot read ${name}: ${(err as Error).message}`, { cause: err, exitCode: 1 });
  }
  const parsed = parser.finish();
  if (options.onBatch) for (const rows of parser.takeBatches()) await options.onBatch(rows);
  options.onProgress?.({ fileBytesRead: fileBytes, fileBytes, rows: parsed.rows, skipped: parsed.skipped.length });
  return { ...parsed, gzip, fileBytes };
}
