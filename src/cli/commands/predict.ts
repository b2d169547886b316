// `pipe predict`: classify PNG or JPEG images with a trained model, preparing each exactly as the training
// images were (decode with sharp, grey or RGB, fit to the input shape, the recorded normalisation).
import { readdir, stat } from 'node:fs/promises';
import { extname, join, relative } from 'node:path';
import { PipeError } from '../../errors.js';
import { parseCommandArgs } from '../args.js';
import { printable } from '../../printable.js';
import type { PrecisionRequest } from '../../tf/backend.js';

export const usage = `Usage: pipe predict <pipeline.yaml | run-id | export-dir> <image or folder>... [options]

Classifies images with a trained model: the latest run of a pipeline (without --set or --sweep), a run id,
or a folder written by 'pipe export'. Each PNG or JPEG is prepared as the training images were (grey or RGB,
fitted to the model's input shape, the normalisation recorded in the dataset), and the top classes are
printed with their probabilities. A folder is searched for .png/.jpg/.jpeg files (recursively) and streamed in batches.

An image that cannot be read is reported and skipped (exit code 2 at the end); --strict stops at the first.

Inference runs in the precision the model was trained in where this machine can: a model trained with
train's precision bf16 (recorded in its model.json, kept by 'pipe export') infers in bf16 on the wasm backend
with oneDNN on a CPU with native bf16 (avx512_core_bf16), in fp32 everywhere else and for every other model.

Options:
  --top <n>          classes to show per image (default 3)
  --json             print {"model": ..., "precision": ..., "predictions": [{file, class, probability, top: [...]}, ...]}
  --strict           stop at the first unreadable image
  --batch-size <n>   images per inference batch (default 64)
  --backend <name>   auto | tensorflow | wasm | cpu (default auto)
  --precision <p>    auto | fp32 | bf16 (default auto): what the convolutions and matrix products multiply in;
                     auto: as the model was trained, where available; bf16 where it is not available runs
                     fp32 with a warning
  --cache <dir>      artifact store holding the run (default: $PIPE_ARTIFACTS, else the pipeline's cache:,
                     else ./artifacts)

Examples:
  pipe predict pipelines/quickstart.yaml face.png
  pipe predict exported/quickstart photos/ --json > predictions.json
`;

const IMAGE = new Set(['.png', '.jpg', '.jpeg']);
const PRECISIONS: readonly PrecisionRequest[] = ['auto', 'fp32', 'bf16'];

interface Prediction {
  file: string;
  class?: string;
  probability?: number;
  top?: { class: string; probability: number }[];
  error?: string;
}

/** The image files named on the command line, folders expanded (sorted, recursive). */
async function* imageFiles(paths: string[]): AsyncGenerator<string> {
  for (const path of paths) {
    const info = await stat(path).catch(() => undefined);
    if (info?.isDirectory()) {
      const entries = (await readdir(path, { recursive: true, withFileTypes: true }))
        .filter((e) => e.isFile() && IMAGE.has(extname(e.name).toLowerCase()))
        .map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name))
        .sort();
      yield* entries;
    } else yield path;
  }
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('predict', argv, {
    top: { type: 'string', default: '3' },
    json: { type: 'boolean', default: false },
    strict: { type: 'boolean', default: false },
    'batch-size': { type: 'string', default: '64' },
    backend: { type: 'string', default: 'auto' },
    precision: { type: 'string', default: 'auto' },
    cache: { type: 'string' },
  });
  if (positionals.length < 2) {
    throw new PipeError(positionals.length ? 'which images? give image files or folders after the model' : 'which model and images?', {
      hint: 'pipe predict pipelines/quickstart.yaml face.png',
    });
  }
  const top = Number(values.top);
  const batchSize = Number(values['batch-size']);
  if (!Number.isInteger(top) || top < 1) throw new PipeError(`--top: '${values.top}' is not a whole number ≥ 1`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new PipeError(`--batch-size: '${values['batch-size']}' is not a whole number ≥ 1`);
  const backend = values.backend!;
  if (!['auto', 'tensorflow', 'wasm', 'cpu'].includes(backend)) {
    throw new PipeError(`unknown backend '${backend}'`, { hint: "use auto, tensorflow, wasm or cpu ('pipe doctor' shows what works here)" });
  }
  const precisionRequest = values.precision!;
  if (!PRECISIONS.includes(precisionRequest as never)) {
    throw new PipeError(`--precision: '${precisionRequest}' is not one of ${PRECISIONS.join(', ')}`, {
      hint: 'auto infers as the model was trained (where this machine can), fp32 in float32, bf16 with bfloat16 products',
    });
  }

  const { findModel } = await import('../model-source.js');
  const { decodeImage } = await import('../../data/decode-image.js');
  const { normaliseBatch } = await import('../../data/normalisation.js');
  const { loadTf, resolveBackend, resolveInferencePrecision } = await import('../../tf/backend.js');
  const { loadModel, readModelTraining } = await import('../../model/model-io.js');
  const { batchProbabilities } = await import('../../model/inference.js');
  const [model, ...inputs] = positionals;
  const { modelDir, info } = await findModel(model, values.cache);
  for (const input of inputs) {
    if (!(await stat(input).catch(() => undefined))) throw new PipeError(`no such image or folder: ${input}`);
  }
  const trained = (await readModelTraining(modelDir))?.precision;
  const loaded = await loadTf(resolveBackend(backend as never));
  const { tf } = loaded;
  const { precision, warning } = await resolveInferencePrecision(loaded.backend, precisionRequest as PrecisionRequest, trained);
  if (warning) process.stderr.write(`warning: ${warning}\n`);
  const net = await loadModel(tf, modelDir);
  const [h, w, c] = info.inputShape;
  const size = h * w * c;
  const transform = { ...info.normalisation } as import('../../data/normalisation.js').NormaliseTransform;
  const shown = (file: string) => relative(process.cwd(), file) || file;
  const progress = !values.json && process.stderr.isTTY;

  const predictions: Prediction[] = [];
  let failures = 0;
  let batch: { file: string; pixels: Buffer }[] = [];
  const flush = () => {
    if (!batch.length) return;
    const x = normaliseBatch(new Uint8Array(Buffer.concat(batch.map((b) => b.pixels))), transform);
    const output = tf.tidy(() => batchProbabilities(tf, net, tf.tensor4d(x, [batch.length, h, w, c]), { precision }));
    const probabilities = output.dataSync();
    output.dispose();
    const n = info.classes.length;
    batch.forEach(({ file }, i) => {
      const row = Array.from(probabilities.subarray(i * n, (i + 1) * n));
      const ranked = row.map((p, k) => ({ class: info.classes[k], probability: p })).sort((a, b) => b.probability - a.probability);
      const prediction: Prediction = { file: shown(file), class: ranked[0].class, probability: ranked[0].probability, top: ranked.slice(0, top) };
      predictions.push(prediction);
      if (!values.json) {
        process.stdout.write(printable(`${prediction.file}  ${prediction.top!.map((t) => `${t.class} ${(t.probability * 100).toFixed(1)}%`).join(' · ')}`, { singleLine: true }) + '\n');
      }
    });
    batch = [];
    if (progress) process.stderr.write(`\r${predictions.length + failures} images`);
  };

  for await (const file of imageFiles(inputs)) {
    let pixels: Buffer;
    try {
      pixels = await decodeImage(file, { shape: info.inputShape, fit: info.preprocessing.fit });
    } catch (err) {
      failures++;
      const message = `cannot read ${shown(file)}: ${(err as Error).message}`;
      if (values.strict) {
        flush();
        throw new PipeError(message, { hint: 'it is not a readable PNG or JPEG; without --strict the other images are classified' });
      }
      process.stderr.write(`${progress ? '\n' : ''}error: ${message}\n`);
      predictions.push({ file: shown(file), error: (err as Error).message });
      continue;
    }
    if (pixels.length !== size) throw new Error(`internal: decoded ${pixels.length} bytes, expected ${size}`);
    batch.push({ file, pixels });
    if (batch.length >= batchSize) flush();
  }
  flush();
  if (progress) process.stderr.write('\n');
  net.dispose();
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ model: info, precision, predictions }, null, 2)}\n`);
  }
  if (failures) process.stderr.write(`${failures} of ${predictions.length} images could not be read\n`);
  return failures ? 2 : 0;
}
