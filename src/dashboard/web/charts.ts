// Line charts (vega-lite through vega-embed, served from the installed packages) and confusion matrices. The
// vega scripts (about 1.5 MB) load on the first chart, not with the page: the runs page draws none, and shows
// its table without waiting for them.
// Each chart's data is also on its element (data-series, data-points), so what is drawn can be checked.
import type { ConfusionView, EpochPoint } from '../api.js';
import { isStatic } from './data.js';
import { el } from './dom.js';

interface VegaView {
  finalize(): void;
}
declare global {
  interface Window {
    vegaEmbed(element: HTMLElement, spec: object, options?: object): Promise<{ view: VegaView }>;
  }
}

export type CurveMetric = 'loss' | 'valLoss' | 'accuracy' | 'valAccuracy' | 'lr';
export const CURVE_LABELS: Record<CurveMetric, string> = {
  loss: 'loss',
  valLoss: 'val_loss',
  accuracy: 'accuracy',
  valAccuracy: 'val_accuracy',
  lr: 'learning rate',
};

export type XAxis = 'epoch' | 'elapsed';

/** One line: its name and the epochs it goes through. */
export interface Series {
  name: string;
  points: EpochPoint[];
}

const views = new WeakMap<HTMLElement, VegaView>();

let vega: Promise<void> | undefined;

/** vega, vega-lite and vega-embed, one after another (each needs the one before), once. */
export function preloadCharts(): Promise<void> {
  return loadVega();
}

function loadVega(): Promise<void> {
  vega ??= ['vega.min.js', 'vega-lite.min.js', 'vega-embed.min.js'].reduce(
    (before, file) =>
      before.then(
        () =>
          new Promise<void>((done, fail) => {
            const script = el('script', { src: `${isStatic ? '' : '/'}vendor/${file}` });
            script.addEventListener('load', () => done());
            script.addEventListener('error', () => fail(new Error(`cannot load vendor/${file}`)));
            document.head.append(script);
          }),
      ),
    Promise.resolve(),
  );
  return vega;
}

/** A chart of `metrics` over `x`, one line per series and metric; empty lines are left out. */
export function lineChart(title: string, series: Series[], metrics: CurveMetric[], x: XAxis): HTMLElement {
  const values: { line: string; run: string; metric: string; x: number; value: number }[] = [];
  const counts: Record<string, number> = {};
  for (const s of series) {
    for (const metric of metrics) {
      const line = metrics.length > 1 ? (series.length > 1 ? `${s.name} ${CURVE_LABELS[metric]}` : CURVE_LABELS[metric]) : s.name;
      for (const p of s.points) {
        const at = x === 'epoch' ? p.epoch : p.elapsed;
        const value = p[metric];
        if (at === undefined || value === undefined) continue;
        values.push({ line, run: s.name, metric: CURVE_LABELS[metric], x: at, value });
        counts[line] = (counts[line] ?? 0) + 1;
      }
    }
  }
  // Several runs: one colour a run, the metric (loss or val_loss) told apart by the dash.
  const byRun = series.length > 1;
  const box = el('figure', { class: 'chart', 'data-chart': title, 'data-series': String(Object.keys(counts).length), 'data-points': JSON.stringify(counts) });
  box.append(el('figcaption', {}, title));
  if (values.length === 0) {
    box.append(el('p', { class: 'muted' }, 'nothing recorded yet'));
    return box;
  }
  const target = el('div');
  box.append(target);
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 340,
    height: 200,
    data: { values },
    // A dot an epoch while the lines are few; with many (20 runs compared) the dots hide the lines and cost
    // thousands of SVG nodes, and the tooltip still follows the line.
    mark: { type: 'line', point: values.length <= 600 && Object.keys(counts).length <= 8 },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: x === 'epoch' ? 'epoch' : 'training time (s)', axis: x === 'epoch' ? { tickMinStep: 1 } : {} },
      y: { field: 'value', type: 'quantitative', title: null, scale: { zero: false } },
      color: { field: byRun ? 'run' : 'line', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 1, labelLimit: 320 } },
      ...(byRun && metrics.length > 1 ? { strokeDash: { field: 'metric', type: 'nominal', title: null, legend: { orient: 'bottom' } } } : {}),
      detail: { field: 'line', type: 'nominal' },
      tooltip: [
        { field: 'line', type: 'nominal' },
        { field: 'x', type: 'quantitative' },
        { field: 'value', type: 'quantitative', format: '.4g' },
      ],
    },
  };
  void loadVega().then(async () => {
    // The page may have moved on while the scripts loaded.
    if (!box.isConnected) return;
    // ast: vega evaluates expressions with its interpreter, so the page's CSP needs no 'unsafe-eval'.
    const { view } = await window.vegaEmbed(target, spec, { actions: false, renderer: 'svg', ast: true });
    views.set(box, view);
  });
  return box;
}

/** Free the charts' views before their elements are dropped. */
export function releaseCharts(root: Element): void {
  root.querySelectorAll<HTMLElement>('figure.chart').forEach((box) => views.get(box)?.finalize());
}

/** What a click on a confusion cell does, and the cell shown as picked. */
export interface CellPick {
  onPick(truth: number, predicted: number): void;
  picked?: [number, number];
}

/** A confusion matrix as a table: true class by row, predicted by column; with `pick`, each cell is a button. */
export function confusionTable(view: ConfusionView, caption: string, pick?: CellPick): HTMLElement {
  const max = Math.max(1, ...view.matrix.flat());
  const name = (k: number) => view.classes[k] ?? String(k);
  return el(
    'table',
    { class: `confusion${pick ? ' pickable' : ''}`, 'data-classes': String(view.classes.length), 'data-stage': view.stage, 'data-split': view.split },
    el('caption', {}, caption),
    el('thead', {}, el('tr', {}, el('th', {}, 'true \\ predicted'), ...view.classes.map((c) => el('th', {}, c)))),
    el(
      'tbody',
      {},
      ...view.matrix.map((row, i) =>
        el(
          'tr',
          {},
          el('th', {}, view.classes[i] ?? String(i)),
          ...row.map((n, j) => {
            const cell = pick
              ? el(
                  'td',
                  { class: pick.picked?.[0] === i && pick.picked[1] === j ? 'picked' : undefined },
                  el('button', { type: 'button', 'data-true': String(i), 'data-predicted': String(j), title: `${name(i)} predicted as ${name(j)}` }, String(n)),
                )
              : el('td', {}, String(n));
            cell.querySelector('button')?.addEventListener('click', () => pick!.onPick(i, j));
            const alpha = n / max;
            cell.style.background = i === j ? `rgba(26,127,55,${alpha * 0.6})` : `rgba(207,34,46,${alpha * 0.6})`;
            return cell;
          }),
        ),
      ),
    ),
  );
}
