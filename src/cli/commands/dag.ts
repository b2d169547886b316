// `pipe dag`: the stage graph as indented text or a Mermaid flowchart.
import { parseArgs } from 'node:util';
import { loadPipeline } from '../../config/load.js';
import { PipeError } from '../../errors.js';

export const usage = `Usage: pipe dag <pipeline.yaml> [--mermaid]

Prints the stage graph: each stage with the stages it reads from. --mermaid prints a Mermaid flowchart
(paste it into Markdown on GitHub or into mermaid.live to see it drawn).
`;

export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { mermaid: { type: 'boolean', default: false }, set: { type: 'string', multiple: true, default: [] } } });
  } catch (err) {
    throw new PipeError((err as Error).message, { hint: "see 'pipe dag --help'" });
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new PipeError('give one pipeline file', { hint: 'pipe dag pipelines/quickstart.yaml' });
  const loaded = await loadPipeline(positionals[0], { sets: values.set as string[] });
  const lines: string[] = [];
  if (values.mermaid) {
    lines.push('flowchart TD');
    const node = (id: string) => id.replace(/[^A-Za-z0-9_]/g, '_');
    for (const id of loaded.order) lines.push(`  ${node(id)}["${id}<br/><small>${loaded.stages[id].uses}</small>"]`);
    for (const id of loaded.order) {
      for (const [name, ref] of Object.entries(loaded.stages[id].inputs)) {
        lines.push(`  ${node(ref.stage)} -->|${ref.output === name ? name : `${ref.output} → ${name}`}| ${node(id)}`);
      }
    }
  } else {
    lines.push(`${loaded.spec.name}`);
    for (const id of loaded.order) {
      const s = loaded.stages[id];
      const from = Object.entries(s.inputs).map(([name, ref]) => (ref.output === name ? `${ref.stage}.${name}` : `${ref.stage}.${ref.output} as ${name}`));
      lines.push(`  ${id} (${s.uses})${from.length ? `  ← ${from.join(', ')}` : ''}`);
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
