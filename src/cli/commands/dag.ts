// `pipe dag`: the stage graph as indented text or a Mermaid flowchart.
import { printable } from '../../printable.js';
import { loadPipeline } from '../../config/load.js';
import { onePipeline, parseCommandArgs } from '../args.js';

export const usage = `Usage: pipe dag <pipeline.yaml> [--mermaid]

Prints the stage graph: each stage with the stages it reads from. --mermaid prints a Mermaid flowchart
(paste it into Markdown on GitHub or into mermaid.live to see it drawn).
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('dag', argv, {
    mermaid: { type: 'boolean', default: false },
    set: { type: 'string', multiple: true, default: [] },
  });
  const loaded = await loadPipeline(onePipeline('dag', positionals), { sets: values.set as string[] });
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
  process.stdout.write(printable(`${lines.join('\n')}\n`));
  return 0;
}
