// `pipe export`: a trained model as a TensorFlow.js layers model folder that can be used without `pipe`.
import { relative } from 'node:path';
import { PipeError } from '../../errors.js';
import { parseCommandArgs } from '../args.js';

export const usage = `Usage: pipe export <pipeline.yaml | run-id> --out <dir> [--cache <dir>]

Writes the model a run trained (a pipeline file stands for its latest run without --set or --sweep) into
<dir>, ready to use without pipe:
  model.json     TensorFlow.js layers model; userDefinedMetadata.pipe holds the class names in label order,
                 the input shape, how images are prepared (grey or RGB, cover/contain/fill) and normalised
                 (mode, scale, mean, std), and the pipeline, stage, cache key and run it came from
  weights.bin    the weights
  README.md      what the model expects and a short Node program that loads it with plain
                 @tensorflow/tfjs and classifies an image

To use it from Python, convert it with tensorflowjs_converter to a Keras file or a SavedModel
(docs/export.md). 'pipe predict <dir> image.png' classifies images with it.

A model whose model.json names weights outside its own folder (an absolute path, '..', a URL, a symbolic
link out) is refused, and nothing is written.

Options:
  --out <dir>      folder to write (created if needed; existing files of the same names are replaced)
  --cache <dir>    artifact store holding the run (default: $PIPE_ARTIFACTS, else the pipeline's cache:,
                   else ./artifacts)

Examples:
  pipe export pipelines/quickstart.yaml --out exported/quickstart
  pipe export 2026-11-24T10-46 --out /tmp/model
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('export', argv, {
    out: { type: 'string' },
    cache: { type: 'string' },
  });
  if (positionals.length !== 1) {
    throw new PipeError(positionals.length ? `expected one pipeline or run id, got ${positionals.length}` : 'which model? give a pipeline file or a run id', {
      hint: 'pipe export pipelines/quickstart.yaml --out exported/quickstart',
    });
  }
  if (!values.out) throw new PipeError('where to? give --out <dir>', { hint: `pipe export ${positionals[0]} --out exported/model` });
  const { findModel } = await import('../model-source.js');
  const { writeExportedModel } = await import('../../model/exported-model.js');
  const { modelDir, info } = await findModel(positionals[0], values.cache);
  const files = await writeExportedModel(modelDir, values.out, info);
  const where = relative(process.cwd(), values.out) || '.';
  process.stdout.write(
    `exported the model of stage '${info.source.stage}' of ${info.source.pipeline} (run ${info.source.run}) to ${where}/: ${files.join(', ')}\n` +
      `  input [${info.inputShape.join(', ')}] ${info.preprocessing.colour}, ${info.classes.length} classes: ${info.classes.join(', ')}\n` +
      `  try it: pipe predict ${where} <image.png>\n`,
  );
  return 0;
}
