// An exported model: a TensorFlow.js layers model (model.json + weights.bin) that carries, in model.json's
// `userDefinedMetadata.pipe`, everything needed to use it without `pipe`: the class names in label order, the
// input shape, how images were prepared (grey or colour, how they were fitted to the shape) and normalised,
// and which pipeline, stage and cache key it came from. tfjs keeps userDefinedMetadata through
// tf.loadLayersModel (model.getUserDefinedMetadata()), and the converter keeps model.json's topology and weights.
import { copyFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ImageFit } from '../data/decode-image.js';
import type { NormaliseTransform } from '../data/normalisation.js';
import { PipeError } from '../errors.js';
import { pathInside } from '../plain-path.js';
import { MODEL_JSON, readModelFolder, WEIGHTS_BIN } from './model-io.js';

const README = 'README.md';

export const EXPORT_FORMAT = 'pipe-model/1';

export interface ExportedModelInfo {
  format: typeof EXPORT_FORMAT;
  /** Class names; the model's output k is the probability of classes[k]. */
  classes: string[];
  /** [height, width, channels] of one input image (the model takes [batch, ...inputShape]). */
  inputShape: [number, number, number];
  /** How a picture becomes the model's input before normalisation. */
  preprocessing: {
    /** Channels 1: converted to grey (libvips' luminance); 3: sRGB. Transparency is flattened onto black. */
    colour: 'grey' | 'rgb';
    /** cover: scale and crop the centre; contain: scale and pad with black; fill: stretch. */
    fit: ImageFit;
  };
  /** value = (byte × scale − mean[c]) / std[c], c the channel (one mean/std entry means all channels). */
  normalisation: Pick<NormaliseTransform, 'mode' | 'scale' | 'mean' | 'std'> & { fitSplit?: string; fitRows?: number };
  /** Where it came from. */
  source: { pipeline: string; stage: string; key: string; run: string };
}

/** The metadata of an export folder (or of a plain model folder written by `pipe export`), if it has any. */
export async function readExportedModelInfo(dir: string): Promise<ExportedModelInfo | undefined> {
  let json: { userDefinedMetadata?: { pipe?: ExportedModelInfo } };
  try {
    json = JSON.parse(await readFile(join(dir, MODEL_JSON), 'utf8'));
  } catch {
    return undefined;
  }
  const info = json.userDefinedMetadata?.pipe;
  return info && info.format === EXPORT_FORMAT ? info : undefined;
}

/**
 * Write `outDir`: model.json (the model folder's, plus userDefinedMetadata.pipe = info), its weights, and
 * README.md. Files appear whole: everything is written into a temp folder that then replaces the files. The
 * weights paths are checked (readModelFolder) before anything is written, and each destination must lie
 * inside `outDir` too (a symbolic link there leads nowhere else).
 */
export async function writeExportedModel(modelDir: string, outDir: string, info: ExportedModelInfo): Promise<string[]> {
  const { json, weights } = await readModelFolder(modelDir);
  const own = new Set([MODEL_JSON, README].map((f) => f.toLowerCase()));
  const clash = weights.find((w) => own.has(w.path.toLowerCase()));
  if (clash) {
    throw new PipeError(`${join(modelDir, MODEL_JSON)} names ${JSON.stringify(clash.path)} as a weights file, which export writes itself`, {
      hint: 'the weights files of a model folder are named like "weights.bin"; train or export the model again',
    });
  }
  json.userDefinedMetadata = { ...json.userDefinedMetadata, pipe: info };
  await mkdir(outDir, { recursive: true });
  const temp = join(outDir, `.export-${process.pid}.tmp`);
  await rm(temp, { recursive: true, force: true });
  await mkdir(temp);
  try {
    const files = [MODEL_JSON, README, ...new Set(weights.map((w) => w.path))];
    for (const { path, file } of weights) {
      await mkdir(dirname(join(temp, path)), { recursive: true });
      await copyFile(file, join(temp, path));
    }
    await writeFile(join(temp, MODEL_JSON), `${JSON.stringify(json, null, 1)}\n`);
    await writeFile(join(temp, README), exportReadme(info));
    // Weights first, model.json last: a reader that sees the new model.json finds its weights.
    const order = [...files.filter((f) => f !== MODEL_JSON), MODEL_JSON];
    const targets = new Map<string, string>();
    for (const file of order) {
      await mkdir(dirname(join(outDir, file)), { recursive: true });
      const inside = await pathInside(outDir, file);
      if ('problem' in inside) throw new PipeError(`cannot export to ${join(outDir, file)}: it ${inside.problem}`, { hint: 'export into a folder of its own' });
      targets.set(file, inside.path);
    }
    for (const file of order) await rename(join(temp, file), targets.get(file)!);
    return files;
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}

/** The Node snippet of the README: load with plain @tensorflow/tfjs, prepare one image, print the top class. */
export const NODE_SNIPPET = `import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { readFileSync } from 'node:fs';

const json = JSON.parse(readFileSync(new URL('model.json', import.meta.url), 'utf8'));
const weights = readFileSync(new URL('${WEIGHTS_BIN}', import.meta.url));
const model = await tf.loadLayersModel(tf.io.fromMemory({ ...json, weightSpecs: json.weightsManifest[0].weights, weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.length) }));
const { classes, inputShape: [h, w, c], preprocessing: prep, normalisation: { scale, mean, std } } = json.userDefinedMetadata.pipe;
const image = sharp(process.argv[2]).flatten({ background: '#000' });
const { data } = await (c === 1 ? image.grayscale() : image.toColourspace('srgb')).resize(w, h, { fit: prep.fit, background: '#000' }).raw().toBuffer({ resolveWithObject: true });
const x = tf.tensor4d(Float32Array.from(data, (v, i) => (v * scale - mean[i % mean.length]) / std[i % std.length]), [1, h, w, c]);
const p = Array.from(model.predict(x).dataSync());
const best = p.indexOf(Math.max(...p));
console.log(classes[best], p[best].toFixed(4));
`;

function exportReadme(info: ExportedModelInfo): string {
  const [h, w, c] = info.inputShape;
  const n = info.normalisation;
  return `# ${info.source.pipeline}: exported model

A TensorFlow.js layers model (\`model.json\` + \`${WEIGHTS_BIN}\`) exported by \`pipe export\` from stage
\`${info.source.stage}\` of pipeline \`${info.source.pipeline}\` (run ${info.source.run}, cache key ${info.source.key.slice(0, 12)}…).

- **Input:** \`[batch, ${h}, ${w}, ${c}]\` float32, ${c === 1 ? 'grey' : 'RGB'} pixels (${info.preprocessing.fit} to ${w}×${h}, transparency on black).
- **Normalisation:** \`(byte × ${n.scale} − mean) / std\` with mean ${JSON.stringify(n.mean)}, std ${JSON.stringify(n.std)} (${n.mode}).
- **Output:** probabilities of ${info.classes.length} classes, in this order: ${info.classes.map((c) => `\`${c}\``).join(', ')}.

All of it is in \`model.json\` under \`userDefinedMetadata.pipe\`.

## Classify an image in Node

\`npm install @tensorflow/tfjs sharp\`, save this as \`classify.mjs\` next to \`model.json\`, and run
\`node classify.mjs face.png\`:

\`\`\`js
${NODE_SNIPPET}\`\`\`

Or with \`pipe\`: \`pipe predict <this folder> face.png\`. To use the model from Python (Keras or a SavedModel),
convert it with \`tensorflowjs_converter\` (see docs/export.md in the pipe repository).
`;
}
