// Small PNG strips of dataset rows, side by side, as data: URLs a self-contained report can show inline.
import type { ImageDataset } from './image-dataset.js';
import { loadSharp } from '../packages.js';

/** One PNG of the given rows next to each other (2 px apart), each scaled up `scale` times, as a data: URL. */
export async function thumbnailStrip(ds: Pick<ImageDataset, 'pixels' | 'shape'>, rows: number[], scale = 2): Promise<string> {
  const sharp = loadSharp();
  const [h, w, c] = ds.shape;
  const size = h * w * c;
  const gap = 2;
  const cellW = w * scale;
  const width = rows.length * cellW + (rows.length - 1) * gap;
  const height = h * scale;
  const channels = c === 3 ? 3 : 1;
  const canvas = Buffer.alloc(width * height * channels, 255);
  rows.forEach((row, k) => {
    const image = ds.pixels.subarray(row * size, (row + 1) * size);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < cellW; x++) {
        const src = (Math.floor(y / scale) * w + Math.floor(x / scale)) * c;
        const dst = (y * width + k * (cellW + gap) + x) * channels;
        for (let ch = 0; ch < channels; ch++) canvas[dst + ch] = image[src + (channels === 1 ? 0 : ch)];
      }
    }
  });
  const png = await sharp(canvas, { raw: { width, height, channels } }).png().toBuffer();
  return `data:image/png;base64,${png.toString('base64')}`;
}
