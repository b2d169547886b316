// The run page: curves of loss, accuracy and learning rate (by epoch, or by training time), the headline
// metrics, the confusion matrices and a link to the HTML report. While the run trains, epochs arrive as
// Server-Sent Events and the curves grow in place.
import type { EpochPoint, LiveEvent, RunDetail } from '../api.js';
import { confusionTable, lineChart, releaseCharts, type Series, type XAxis } from './charts.js';
import { duration, el, leaf, number, percent, show, when } from './dom.js';
import { isStatic, load } from './data.js';
import { mistakesHash } from './mistakes-page.js';
import { commit } from './runs-page.js';

/** Epochs per training stage, in epoch order; a newer point for the same epoch replaces the older. */
export function seriesOf(points: EpochPoint[], name: (stage: string, stages: number) => string): Series[] {
  const byStage = new Map<string, Map<number, EpochPoint>>();
  for (const p of points) {
    if (!byStage.has(p.stage)) byStage.set(p.stage, new Map());
    byStage.get(p.stage)!.set(p.epoch, p);
  }
  return [...byStage].map(([stage, epochs]) => ({
    name: name(stage, byStage.size),
    points: [...epochs.values()].sort((a, b) => a.epoch - b.epoch),
  }));
}

export function curves(series: Series[], x: XAxis): HTMLElement {
  return el(
    'div',
    { class: 'charts' },
    lineChart('loss', series, ['loss', 'valLoss'], x),
    lineChart('accuracy', series, ['accuracy', 'valAccuracy'], x),
    lineChart('learning rate', series, ['lr'], x),
  );
}

/** The x-axis picker: epoch, or training time where the epochs recorded it. */
export function axisPicker(points: EpochPoint[], current: XAxis, pick: (x: XAxis) => void): HTMLElement {
  const select = el('select', { id: 'x-axis', 'aria-label': 'x axis' }, el('option', { value: 'epoch' }, 'by epoch'));
  if (points.some((p) => p.elapsed !== undefined)) select.append(el('option', { value: 'elapsed' }, 'by training time'));
  select.value = current;
  select.addEventListener('change', () => pick(select.value as XAxis));
  return el('label', {}, 'curves ', select);
}

function headline(d: RunDetail): HTMLElement {
  const r = d.run;
  return el(
    'table',
    { id: 'headline' },
    el(
      'tbody',
      {},
      r.name !== undefined ? el('tr', {}, el('th', {}, 'name'), el('td', { id: 'run-name' }, r.name)) : null,
      el('tr', {}, el('th', {}, 'status'), el('td', { id: 'run-status', class: `status-${r.status}` }, r.status)),
      el('tr', {}, el('th', {}, 'pipeline'), el('td', {}, r.pipeline, r.variant ? ` (variant ${r.variant}` : '', r.sweep ? el('span', {}, ' of ', sweepLink(r.sweep)) : '', r.variant ? ')' : '')),
      r.tags?.length ? el('tr', {}, el('th', {}, 'tags'), el('td', { id: 'run-tags' }, ...r.tags.map((t) => el('span', { class: 'tag' }, t)))) : null,
      r.git ? el('tr', {}, el('th', {}, 'commit'), el('td', {}, commit(r.git), r.host ? el('span', { class: 'muted' }, ` on ${r.host}`) : null)) : null,
      el('tr', {}, el('th', {}, 'started'), el('td', {}, when(r.startedAt))),
      el('tr', {}, el('th', {}, 'duration'), el('td', {}, duration(r.seconds))),
      el('tr', {}, el('th', {}, `${r.split ?? 'test'} accuracy`), el('td', {}, percent(r.accuracy))),
      el('tr', {}, el('th', {}, 'balanced accuracy'), el('td', {}, percent(r.balancedAccuracy))),
      el('tr', {}, el('th', {}, 'macro F1'), el('td', {}, number(r.macroF1))),
      el('tr', {}, el('th', {}, 'leakage'), el('td', { class: r.leaky ? 'leak' : undefined }, r.leakage ?? '—')),
      r.notes?.length
        ? el('tr', {}, el('th', {}, 'notes'), el('td', {}, el('ul', { class: 'notes', id: 'run-notes' }, ...r.notes.map((n) => el('li', {}, el('span', { class: 'muted' }, `${when(n.at)}  `), n.text)))))
        : null,
    ),
  );
}

export function sweepLink(id: string, text = `sweep ${id}`): HTMLAnchorElement {
  return el('a', { href: `#/sweep/${encodeURIComponent(id)}`, class: 'sweep-link' }, text);
}

function stagesTable(d: RunDetail): HTMLElement {
  return el(
    'table',
    { id: 'stages' },
    el('thead', {}, el('tr', {}, el('th', {}, 'stage'), el('th', {}, 'uses'), el('th', {}, 'status'), el('th', { class: 'num' }, 'time'), el('th', {}, 'params'))),
    el(
      'tbody',
      {},
      ...d.stages.map((s) =>
        el(
          'tr',
          {},
          el('td', {}, s.id),
          el('td', {}, s.uses),
          el('td', { class: `status-${s.status}` }, s.status, s.error ? `: ${s.error}` : ''),
          el('td', { class: 'num' }, s.status === 'ran' ? duration(s.seconds) : ''),
          el('td', {}, Object.entries(s.params).map(([k, v]) => `${k}=${leaf(v)}`).join('  ')),
        ),
      ),
    ),
  );
}

export async function runPage(root: HTMLElement, id: string): Promise<() => void> {
  let detail = await load<RunDetail>(`/api/runs/${encodeURIComponent(id)}`);
  let points = [...detail.epochs];
  let x: XAxis = 'epoch';
  const chartsBox = el('div', { id: 'curves' });
  const epochCount = el('p', { id: 'epoch-count' });
  const stageName = (stage: string, stages: number) => (stages > 1 ? stage : 'run');

  const drawCurves = () => {
    const series = seriesOf(points, stageName);
    const epochs = Math.max(0, ...series.map((s) => s.points.length));
    epochCount.dataset.epochs = String(epochs);
    epochCount.textContent = `${epochs} epoch${epochs === 1 ? '' : 's'}${detail.run.status === 'running' ? ' so far (live)' : ''}`;
    releaseCharts(chartsBox);
    show(chartsBox, axisPicker(points, x, (picked) => ((x = picked), drawCurves())), curves(series, x));
  };

  const draw = () => {
    show(
      root,
      el('h1', {}, `Run ${detail.run.id}`),
      el(
        'p',
        { class: 'links' },
        detail.mistakes ? el('a', { href: mistakesHash(detail.run.id, {}), id: 'mistakes-link' }, 'Mistakes') : null,
        detail.report ? el('a', { href: detail.report, id: 'report-link', target: '_blank', rel: 'noopener' }, 'HTML report') : null,
      ),
      headline(detail),
      el('h2', {}, 'Training'),
      epochCount,
      chartsBox,
      el('h2', {}, 'Confusion'),
      detail.confusion.length
        ? el(
            'div',
            { class: 'matrices' },
            // With predictions, a cell opens the mistakes page on its images.
            ...detail.confusion.map((c) =>
              confusionTable(
                c,
                `${c.stage} · ${c.split}`,
                detail.mistakes ? { onPick: (t, p) => (location.hash = mistakesHash(detail.run.id, { stage: c.stage, split: c.split, cell: [t, p] })) } : undefined,
              ),
            ),
          )
        : el('p', { class: 'muted' }, 'no confusion matrix recorded'),
      el('h2', {}, 'Stages'),
      el('div', { class: 'scroll' }, stagesTable(detail)),
    );
    drawCurves();
  };
  draw();

  let source: EventSource | undefined;
  let pending: ReturnType<typeof setTimeout> | undefined;
  if (detail.run.status === 'running' && !isStatic) {
    source = new EventSource(`/api/runs/${encodeURIComponent(id)}/events`);
    source.onmessage = (message) => {
      const event = JSON.parse(message.data as string) as LiveEvent;
      if (event.type === 'epoch') {
        points.push(event.point);
        // Epochs may come many at once (the log so far, or fast epochs): draw once for those of a moment.
        pending ??= setTimeout(() => ((pending = undefined), drawCurves()), 200);
      } else if (event.status !== 'running') {
        source?.close();
        void load<RunDetail>(`/api/runs/${encodeURIComponent(id)}`).then((fresh) => {
          detail = fresh;
          points = [...fresh.epochs];
          draw();
        });
      }
    };
  }
  return () => {
    source?.close();
    clearTimeout(pending);
    releaseCharts(root);
  };
}
