// Exact duplicate images: rows whose pixel bytes are identical. Rows are bucketed by a SHA-1 of their bytes and
// each bucket is then split by comparing the bytes themselves, so a hash collision can never merge two different
// images into one group.
import { createHash } from 'node:crypto';
import type { ImageDataset } from './image-dataset.js';

/**
 * Groups of row indices (ascending, each of two rows or more) that hold byte-identical images, ordered by their
 * first row. `onProgress(done)` is called every few thousand rows.
 */
export function findDuplicateGroups(
  ds: Pick<ImageDataset, 'pixels' | 'shape' | 'labels'>,
  onProgress?: (done: number) => void,
): number[][] {
  const size = ds.shape[0] * ds.shape[1] * ds.shape[2];
  const n = ds.labels.length;
  const image = (i: number) => ds.pixels.subarray(i * size, (i + 1) * size);
  const buckets = new Map<string, number[]>();
  for (let i = 0; i < n; i++) {
    const key = createHash('sha1').update(image(i)).digest('base64');
    const bucket = buckets.get(key);
    if (bucket) bucket.push(i);
    else buckets.set(key, [i]);
    if (onProgress && i % 4096 === 4095) onProgress(i + 1);
  }
  const groups: number[][] = [];
  for (const bucket of buckets.values()) {
    if (bucket.length < 2) continue;
    // Almost always one class; a collision would give several.
    const classes: number[][] = [];
    for (const row of bucket) {
      const bytes = Buffer.from(image(row).buffer, image(row).byteOffset, size);
      const same = classes.find((c) => bytes.equals(image(c[0])));
      if (same) same.push(row);
      else classes.push([row]);
    }
    for (const c of classes) if (c.length > 1) groups.push(c);
  }
  return groups.sort((a, b) => a[0] - b[0]);
}
