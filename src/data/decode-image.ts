// Decoding one PNG or JPEG into the HWC uint8 pixels of an image dataset, with sharp (libvips): transparent
// areas flattened onto black, grey or sRGB, and resized to [height, width] by `fit` (cover crops the centre,
// contain pads with black, fill stretches). `ingest-images` and `pipe predict` both decode through here, so a
// picture given to a trained model is prepared exactly as its training images were.

import { loadSharp } from '../packages.js';
export type ImageFit = 'cover' | 'contain' | 'fill';

export interface ImagePreparation {
  /** [height, width, channels]; channels 1 means grey, 3 colour. */
  shape: [number, number, number];
  fit: ImageFit;
}

/** The dataset metadata key that records how images were prepared (written by ingest-images). */
export const IMAGE_PREPARATION_KEY = 'pipe.image';

/**
 * Raw pixels of the image at `path` (or in `bytes`), exactly shape[0] × shape[1] × shape[2] bytes.
 * `onWarning` hears libvips' warnings (a bad PNG chunk checksum, a damaged JPEG tile); libvips keeps one queue of
 * them per process, so with several images in flight a warning may belong to another of them.
 */
export async function decodeImage(input: string | Buffer, prep: ImagePreparation, onWarning?: (warning: string) => void): Promise<Buffer> {
  const sharp = loadSharp();
  const [h, w, c] = prep.shape;
  const decoder = sharp(input, { failOn: 'error' });
  if (onWarning) decoder.on('warning', onWarning);
  let image = decoder.flatten({ background: '#000000' });
  image = c === 1 ? image.grayscale() : image.toColourspace('srgb');
  const { data } = await image.resize(w, h, { fit: prep.fit, background: '#000000' }).raw().toBuffer({ resolveWithObject: true });
  if (data.length !== h * w * c) throw new Error(`decoded to ${data.length} bytes, expected ${h}x${w}x${c} = ${h * w * c}`);
  return data;
}
