// `pipe schema`: regenerate schemas/pipeline.schema.json (the core schema plus every built-in stage's params),
// which editors use through the `# yaml-language-server: $schema=...` line at the top of each pipeline.
import { fileURLToPath } from 'node:url';
import { PipeError } from '../../errors.js';

export const usage = `Usage: pipe schema [--check] [--out <file>]

Regenerate the JSON Schema of pipeline files from the core schema and every built-in stage's params,
so editors complete and check pipelines. Start a pipeline with
  # yaml-language-server: $schema=../schemas/pipeline.schema.json
to use it.

Options:
  --check        do not write; exit 1 if the file is out of date (for CI)
  --out <file>   write this file instead of schemas/pipeline.schema.json

Examples:
  pipe schema
  pipe schema --check
`;

/** dist/src/cli/commands/ -> <package root>/schemas/ */
const DEFAULT_OUT = fileURLToPath(new URL('../../../../schemas/pipeline.schema.json', import.meta.url));

export async function run(argv: string[]): Promise<number> {
  let check = false;
  let out = DEFAULT_OUT;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--check') check = true;
    else if (arg === '--out' && argv[i + 1] !== undefined) out = argv[++i];
    else if (arg.startsWith('--out=')) out = arg.slice('--out='.length);
    else throw new PipeError(`pipe schema: unexpected argument '${arg}'`, { hint: 'see pipe schema --help' });
  }
  const { resolve, dirname, basename } = await import('node:path');
  const { readFile, writeFile, rename, mkdir, rm } = await import('node:fs/promises');
  const { listBuiltinStages, loadStage } = await import('../../config/stage-loader.js');
  const { composePipelineSchema, serializeSchema } = await import('../../config/compose-schema.js');
  const target = resolve(out);
  const names = listBuiltinStages();
  const stages = await Promise.all(
    names.map(async (name) => {
      try {
        return (await loadStage(name, process.cwd())).stage;
      } catch (err) {
        if (err instanceof PipeError) throw new PipeError(`built-in stage '${name}': ${err.message}`, { hint: err.hint, cause: err });
        throw err;
      }
    }),
  );
  const text = serializeSchema(composePipelineSchema(stages));
  const current = await readFile(target, 'utf8').catch(() => undefined);
  if (check) {
    if (current === text) {
      process.stdout.write(`ok: ${target} is up to date (${names.length} built-in stages)\n`);
      return 0;
    }
    process.stderr.write(`${target} is ${current === undefined ? 'missing' : 'out of date'}; run \`pipe schema\` to regenerate it\n`);
    return 1;
  }
  if (current === text) {
    process.stdout.write(`unchanged: ${target} (${names.length} built-in stages)\n`);
    return 0;
  }
  // Write next to the target and rename, so an editor never reads half a file.
  await mkdir(dirname(target), { recursive: true });
  const temp = resolve(dirname(target), `.${basename(target)}.${process.pid}.tmp`);
  try {
    await writeFile(temp, text);
    await rename(temp, target);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  process.stdout.write(`wrote ${target} (${names.length} built-in stages: ${names.join(', ')})\n`);
  return 0;
}
