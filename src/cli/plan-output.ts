// How `pipe plan` (and `pipe run --dry-run` of a sweep) prints a plan document: JSON, or a line per stage.
import type { PlanDocument } from '../plan/plan-document.js';
import { printable } from '../printable.js';

export function printPlan(doc: PlanDocument, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
    return;
  }
  const label = (s: (typeof doc.stages)[number]) => `${s.id} (${s.type})${s.variants && s.variants.length < (doc.variants?.length ?? 0) ? ` [${s.variants.join(' | ')}]` : ''}`;
  const width = Math.max(...doc.stages.map((s) => label(s).length));
  for (const s of doc.stages) {
    const state = s.state.padEnd(13);
    const where = s.runsOn.length ? `  runs-on: ${s.runsOn.join(', ')}` : '';
    const waits = s.needs.length ? `  after ${s.needs.join(', ')}` : '';
    process.stdout.write(printable(`${`${state}  ${label(s).padEnd(width)}${waits}${where}`.trimEnd()}${s.reasons.length ? `\n               ${s.reasons.join('; ')}` : ''}\n`));
  }
  const { stale, stages } = doc.summary;
  const variantsNote = doc.variants ? ` over ${doc.variants.length} variants` : '';
  process.stdout.write(`\n${printable(doc.pipeline.name, { singleLine: true })}: ${stale === 0 ? 'everything cached' : `${stale} of ${stages} stages would run`}${variantsNote}\n`);
}
