// The compare page (2 to 20 runs): their curves overlaid, one colour a run; each metric with its difference from
// the first run picked; the params that differ; the confusion matrices side by side.
import type { CompareDetail, RunDetail } from '../api.js';
import { confusionTable, releaseCharts, type Series, type XAxis } from './charts.js';
import { el, leaf, number, percent, runLink, show } from './dom.js';
import { load } from './data.js';
import { axisPicker, curves, seriesOf } from './run-page.js';

const PERCENT = new Set(['accuracy', 'balancedAccuracy']);
const METRIC_LABELS: Record<string, string> = { accuracy: 'accuracy', balancedAccuracy: 'balanced accuracy', macroF1: 'macro F1', loss: 'loss' };

/** How a run is named in legends and headers: its place in the comparison, start time and pipeline. */
function label(d: RunDetail, i: number): string {
  return `#${i + 1} ${d.run.startedAt.slice(11, 19)} ${d.run.pipeline}${d.run.variant ? ` ${d.run.variant}` : ''}`;
}

function delta(value: number | undefined, first: number | undefined, isPercent: boolean): HTMLElement | string {
  if (value === undefined || first === undefined) return '';
  const d = value - first;
  const text = isPercent ? `${d >= 0 ? '+' : '−'}${Math.abs(d * 100).toFixed(1)} pt` : `${d >= 0 ? '+' : '−'}${number(Math.abs(d))}`;
  return el('span', { class: d === 0 ? 'muted' : undefined }, ` (${text})`);
}

export async function comparePage(root: HTMLElement, ids: string[]): Promise<() => void> {
  const detail = await load<CompareDetail>(`/api/compare?runs=${ids.map(encodeURIComponent).join(',')}`);
  const { comparison, runs } = detail;
  const labels = runs.map(label);
  const series: Series[] = runs.flatMap((d, i) => seriesOf(d.epochs, (stage, stages) => (stages > 1 ? `${labels[i]} ${stage}` : labels[i])));
  const points = series.flatMap((s) => s.points);
  let x: XAxis = 'epoch';
  const chartsBox = el('div', { id: 'curves' });
  const drawCurves = () => {
    releaseCharts(chartsBox);
    show(chartsBox, axisPicker(points, x, (picked) => ((x = picked), drawCurves())), curves(series, x));
  };
  const header = el('tr', {}, el('th', {}, ''), ...runs.map((d, i) => el('th', {}, runLink(d.run.id, labels[i]))));

  const metrics = el(
    'table',
    { id: 'metric-deltas' },
    el('thead', {}, header.cloneNode(true)),
    el(
      'tbody',
      {},
      ...comparison.metrics.map((m) => {
        const isPercent = PERCENT.has(m.metric);
        const format = isPercent ? percent : number;
        return el(
          'tr',
          {},
          el('th', {}, `${m.stage ? `${m.stage}.` : ''}${m.split} ${METRIC_LABELS[m.metric] ?? m.metric}`),
          ...m.values.map((v, i) => el('td', { class: 'num' }, format(v), i > 0 ? delta(v, m.values[0], isPercent) : '')),
        );
      }),
    ),
  );
  const params = comparison.params.length
    ? el(
        'table',
        { id: 'param-diffs' },
        el('thead', {}, header.cloneNode(true)),
        el('tbody', {}, ...comparison.params.map((p) => el('tr', {}, el('th', {}, p.path), ...p.values.map((v) => el('td', {}, leaf(v)))))),
      )
    : el('p', { class: 'muted' }, 'every param is the same');
  const matrices = el(
    'div',
    { class: 'matrices', id: 'compare-confusion' },
    ...runs.map((d, i) => {
      const c = d.confusion.find((m) => m.split === d.run.split) ?? d.confusion[0];
      return c ? confusionTable(c, `${labels[i]} · ${c.split}`) : el('p', { class: 'muted' }, `${labels[i]}: no confusion matrix`);
    }),
  );
  show(
    root,
    el('h1', {}, `Compare ${runs.length} runs`),
    el('h2', {}, 'Curves'),
    chartsBox,
    el('h2', {}, 'Metrics (difference from #1)'),
    el('div', { class: 'scroll' }, metrics),
    el('h2', {}, 'Params that differ'),
    el('div', { class: 'scroll' }, params),
    el('h2', {}, 'Confusion matrices'),
    matrices,
    ...comparison.notes.map((n) => el('p', { class: 'muted' }, n)),
  );
  drawCurves();
  return () => releaseCharts(root);
}
