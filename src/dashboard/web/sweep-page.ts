// A sweep: one line per variant through its swept params and a chosen metric (parallel coordinates), a scatter
// of one chosen param against the metric, and the variants as a table.
import type { SweepDetail } from '../api.js';
import { el, leaf, number, runLink, show } from './dom.js';
import { load } from './data.js';
import { parallelCoordinates, scatterPlot } from './plots.js';

export async function sweepPage(root: HTMLElement, id: string): Promise<() => void> {
  const detail = await load<SweepDetail>(`/api/sweeps/${encodeURIComponent(id)}`);
  let metric = detail.metric ?? detail.metrics[0];
  let param = detail.params[0];
  const names = detail.variants.map((v) => v.variant);
  const ids = detail.variants.map((v) => v.id);

  const metricPick = el('select', { id: 'sweep-metric', 'aria-label': 'metric' }, ...detail.metrics.map((m) => el('option', { value: m }, m)));
  const paramPick = el('select', { id: 'sweep-param', 'aria-label': 'param' }, ...detail.params.map((p) => el('option', { value: p }, p)));
  const plots = el('div', { class: 'charts' });
  const table = el('table', { id: 'variants' });

  const draw = () => {
    if (metric !== undefined) metricPick.value = metric;
    if (param !== undefined) paramPick.value = param;
    const metricAxis = { label: metric ?? '—', values: detail.variants.map((v) => (metric === undefined ? undefined : v.values[metric])) };
    const axes = [...detail.params.map((p) => ({ label: p, values: detail.variants.map((v) => v.params[p]) })), metricAxis];
    show(
      plots,
      el('figure', { class: 'chart', id: 'parallel', 'data-lines': String(names.length) }, el('figcaption', {}, `swept params and ${metricAxis.label}`), parallelCoordinates(axes, names, ids)),
      param !== undefined
        ? el(
            'figure',
            { class: 'chart', id: 'scatter' },
            el('figcaption', {}, `${param} against ${metricAxis.label}`),
            scatterPlot({ label: param, values: detail.variants.map((v) => v.params[param!]) }, metricAxis, names, ids),
          )
        : null,
    );
    show(
      table,
      el('thead', {}, el('tr', {}, el('th', {}, 'variant'), el('th', {}, 'run'), el('th', {}, 'status'), ...detail.params.map((p) => el('th', {}, p)), el('th', { class: 'num' }, metricAxis.label))),
      el(
        'tbody',
        {},
        ...detail.variants.map((v) =>
          el(
            'tr',
            { 'data-run': v.id },
            el('td', {}, v.variant),
            el('td', {}, runLink(v.id)),
            el('td', { class: `status-${v.status}` }, v.status),
            ...detail.params.map((p) => el('td', {}, leaf(v.params[p]))),
            el('td', { class: 'num' }, metric === undefined ? '—' : number(v.values[metric])),
          ),
        ),
      ),
    );
  };
  metricPick.addEventListener('change', () => ((metric = metricPick.value), draw()));
  paramPick.addEventListener('change', () => ((param = paramPick.value), draw()));
  show(
    root,
    el('h1', {}, `Sweep ${detail.id}`),
    el('p', { class: 'muted' }, `${detail.pipeline}: ${detail.variants.length} variant${detail.variants.length === 1 ? '' : 's'}`),
    el('div', { class: 'toolbar' }, el('label', {}, 'metric ', metricPick), el('label', {}, 'scatter: param ', paramPick)),
    plots,
    el('h2', {}, 'Variants'),
    el('div', { class: 'scroll' }, table),
  );
  draw();
  return () => undefined;
}
