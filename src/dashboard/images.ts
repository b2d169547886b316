// One image of a dataset in the store as a PNG, for the mistakes page. The dataset (an Arrow file) is read whole
// once and kept while its images are asked for: a page of thumbnails is many requests for rows of one file.
import { stat } from 'node:fs/promises';
import { readDataset, rowCount, type ImageDataset } from '../data/image-dataset.js';
import { loadSharp } from '../packages.js';

const KEPT = 2;
const datasets = new Map<string, { mtimeMs: number; dataset: Promise<ImageDataset> }>();

async function dataset(file: string): Promise<ImageDataset> {
  const { mtimeMs } = await stat(file);
  const cached = datasets.get(file);
  if (cached && cached.mtimeMs === mtimeMs) {
    // Most recently used last.
    datasets.delete(file);
    datasets.set(file, cached);
    return cached.dataset;
  }
  const entry = { mtimeMs, dataset: readDataset(file) };
  datasets.set(file, entry);
  entry.dataset.catch(() => datasets.delete(file));
  while (datasets.size > KEPT) datasets.delete(datasets.keys().next().value!);
  return entry.dataset;
}

/** A row number as it comes in a URL: digits only, no sign, no leading zeros. */
export function parseRow(text: string): number | undefined {
  return /^(0|[1-9]\d{0,9})$/.test(text) ? Number(text) : undefined;
}

/** Row `row` of the dataset at `file` (a real path inside the store) as PNG bytes, or undefined past its end. */
export async function rowPng(file: string, row: number): Promise<Buffer | undefined> {
  const ds = await dataset(file);
  if (!Number.isInteger(row) || row < 0 || row >= rowCount(ds)) return undefined;
  const [h, w, c] = ds.shape;
  const size = h * w * c;
  const pixels = ds.pixels.subarray(row * size, (row + 1) * size);
  // Grey or RGB as stored; any other channel count shows its first channel.
  const channels = c === 3 ? 3 : 1;
  const raw = channels === c ? Buffer.from(pixels) : Buffer.from(Uint8Array.from({ length: h * w }, (_, i) => pixels[i * c]));
  const sharp = loadSharp();
  return sharp(raw, { raw: { width: w, height: h, channels } }).png().toBuffer();
}
