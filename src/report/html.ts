// The report as ONE self-contained HTML page: inline CSS, inline SVG charts, no scripts, no external URLs.
// Every value taken from data goes through the escaping builder in ./html-builder.ts.
import type { CountsTable } from './class-counts.js';
import { totalRows } from './class-counts.js';
import { flattenParams, leafText } from './flatten.js';
import { trainedOn } from './history.js';
import { formatCount, formatNumber, formatPercent, formatPointDelta, formatSeconds } from './format.js';
import { h, raw, render, table, type Content, type Raw } from './html-builder.js';
import { leakageVerdict, type LeakageExample, type PairFindings } from './leakage.js';
import { headlineSplit, inferredIn, type MetricsView, type SplitMetrics } from './metrics.js';
import type { ReportData } from './report-data.js';
import { REPORT_CSS } from './styles.js';

export interface ChartSvgs {
  accuracy?: string;
  loss?: string;
  lr?: string;
  confusion?: string;
  pr?: string;
}

interface Section {
  id: string;
  title: string;
  body: Content;
}

function paramsText(params: Record<string, unknown>): string {
  const flat = [...flattenParams(params)];
  return flat.length ? flat.map(([k, v]) => `${k}=${leafText(v)}`).join('  ') : '(defaults)';
}

/** Short params inline; long ones (a layer list) folded into a <details> that opens without scripts. */
function paramsCell(params: Record<string, unknown>): Raw {
  const text = paramsText(params);
  if (text.length <= 160) return h('code', {}, text);
  const count = flattenParams(params).size;
  return h('details', {}, h('summary', {}, `${count} params`), h('code', {}, text));
}

function pipelineSection(data: ReportData): Section | undefined {
  const pipeline = data.pipeline;
  if (!pipeline) return undefined;
  const stages = Object.entries(pipeline.upstream);
  const facts = h(
    'p',
    {},
    `Built from ${stages.length} ${stages.length === 1 ? 'stage' : 'stages'}. Backend requested: `,
    h('code', {}, pipeline.backend.requested),
    `, resolved to `,
    h('code', {}, pipeline.backend.resolved),
    '. Which stages ran in which run: ',
    h('code', {}, 'pipe runs'),
    '.',
  );
  const rows = stages.map(([id, s]) => [h('code', {}, id), s.uses, paramsCell(s.params ?? {}), h('code', { title: s.key }, s.key.slice(0, 12))]);
  return {
    id: 'pipeline',
    title: 'Pipeline',
    body: [facts, table(['stage', 'uses', { title: 'params', className: 'params' }, 'cache key'], rows)],
  };
}

function countsTable(t: CountsTable): Raw {
  const hasBefore = !!t.before;
  const totals = totalRows(t);
  const rows: Content[][] = t.classes.map((c, k) => {
    const after = t.after[k];
    const before = t.before?.[k];
    return hasBefore
      ? [c, formatCount(before), formatCount(after), before !== undefined ? signed(after - before) : '—']
      : [c, formatCount(after)];
  });
  rows.push(
    hasBefore
      ? [h('strong', {}, 'total'), formatCount(totals.before), formatCount(totals.after), signed(totals.after - (totals.before ?? 0))]
      : [h('strong', {}, 'total'), formatCount(totals.after)],
  );
  const cols = hasBefore
    ? ['class', { title: 'before', numeric: true }, { title: 'after', numeric: true }, { title: 'change', numeric: true }]
    : ['class', { title: 'rows', numeric: true }];
  return table(cols, rows);
}

function signed(n: number): string {
  return n === 0 ? '0' : `${n > 0 ? '+' : '−'}${formatCount(Math.abs(n))}`;
}

function classCountsSection(data: ReportData): Section | undefined {
  const view = data.classCounts;
  if (!view) return undefined;
  const body: Content[] = [];
  for (const step of view.steps) {
    const pooled = step.splits === 'all';
    body.push(
      h('p', {}, h('strong', {}, step.method), ` with strategy `, h('code', {}, step.strategy), ' on ', pooled ? 'all rows as one pool' : `split(s) ${step.splits}`, '.'),
    );
    if (pooled) {
      body.push(
        h(
          'div',
          { class: 'banner warn', role: 'alert' },
          h('strong', {}, '⚠ Resampled before splitting'),
          'Copies of the same image were made before the data was split, so copies can land in both train and test. ' +
            'Test accuracy after this is not a measure of generalisation.',
        ),
      );
    }
    body.push(h('div', { class: 'grid2' }, step.tables.map((t) => h('div', {}, h('h3', {}, `${t.group}`), countsTable(t)))));
  }
  if (view.current) {
    body.push(h('p', {}, 'The dataset was not resampled; rows per class and split:'));
    body.push(h('div', { class: 'grid2' }, view.current.map((t) => h('div', {}, h('h3', {}, t.group), countsTable(t)))));
  }
  return { id: 'classes', title: 'Class counts', body };
}

function leakageBanner(data: ReportData): Raw | undefined {
  if (!data.leakage && !data.protocol?.length) return undefined;
  const v = leakageVerdict(data.leakage, data.protocol);
  return h(
    'div',
    { class: `banner ${v.leaky ? 'warn' : 'ok'}`, role: v.leaky ? 'alert' : 'status' },
    h('strong', {}, `${v.leaky ? '⚠' : '✓'} ${v.headline}`),
    v.detail,
  );
}

function pairRows(pairs: PairFindings[]): Content[][] {
  return pairs.map((p) => [
    p.a === p.b ? p.a : `${p.a} × ${p.b}`,
    p.groups > 0 ? h('strong', {}, formatCount(p.groups)) : '0',
    Object.entries(p.rows).map(([split, n]) => `${formatCount(n)} ${split}`).join(', '),
    formatCount(p.sameSourceGroups),
    formatCount(p.labelConflicts),
  ]);
}

const PAIR_COLUMNS = [
  'splits',
  { title: 'identical images', numeric: true },
  'rows involved',
  { title: 'copies of one source row', numeric: true },
  { title: 'label conflicts', numeric: true },
];

function examplesTable(examples: LeakageExample[]): Raw {
  return table(
    ['where', { title: 'rows', numeric: true }, 'images', 'rows (split · row · source row · label)', 'labels differ'],
    examples.map((e) => [
      e.pair,
      formatCount(e.size),
      e.thumbnail ? h('img', { src: e.thumbnail, alt: `the ${e.rows.length} images of this group`, class: 'thumb' }) : '',
      h('code', {}, e.rows.map((r) => `${r.split} · ${r.row ?? '?'} · ${r.source ?? '?'} · ${r.label}`).join('  |  ')),
      e.labelConflict ? h('strong', {}, 'yes') : 'no',
    ]),
  );
}

function nearRows(pairs: PairFindings[]): Content[][] {
  return pairs.map((p) => [
    `${p.a} × ${p.b}`,
    p.groups > 0 ? h('strong', {}, formatCount(p.groups)) : '0',
    Object.entries(p.matchedRows ?? p.rows).map(([split, n]) => `${formatCount(n)} ${split}`).join(', '),
    formatCount(p.labelConflicts),
  ]);
}

function leakageSection(data: ReportData): Section | undefined {
  const view = data.leakage;
  if (!view && !data.protocol?.length) return undefined;
  const body: Content[] = [leakageBanner(data)];
  for (const finding of data.protocol ?? []) body.push(h('p', {}, h('strong', {}, 'Protocol: '), finding.detail));
  if (!view) return { id: 'leakage', title: 'Leakage check', body };
  body.push(h('p', {}, 'Byte-identical images, found by pixel hash and confirmed byte by byte.'));
  if (view.cross.length) {
    body.push(h('h3', {}, 'Across splits'), table(PAIR_COLUMNS, pairRows(view.cross)));
  }
  if (view.within.length) {
    body.push(
      h('h3', {}, 'Within one split'),
      h('p', { class: 'notes' }, 'Copies inside the training split are what over-sampling makes on purpose; they do not leak.'),
      table(PAIR_COLUMNS, pairRows(view.within)),
    );
  }
  if (view.examples.length) body.push(h('h3', {}, 'Examples'), examplesTable(view.examples));
  const near = view.near;
  if (near) {
    body.push(
      h('h3', {}, 'Near copies across splits'),
      h(
        'p',
        {},
        'The same photo re-encoded, shifted or brightened (exact copies included): a perceptual hash proposes pairs ' +
          `within ${near.maxDistance ?? '?'} bits, and a pair counts when its pixels correlate at least ` +
          `${near.minCorrelation ?? '?'} at a shift of up to ${near.maxShift ?? '?'} pixels. Rows: those with a near copy of their own in the other split.`,
      ),
      table(['splits', { title: 'groups', numeric: true }, 'rows with a near copy', { title: 'label conflicts', numeric: true }], nearRows(near.cross)),
    );
    if (near.examples.length) body.push(h('h3', {}, 'Near-copy examples'), examplesTable(near.examples));
  }
  return { id: 'leakage', title: 'Leakage check', body };
}

function deduplicationSection(data: ReportData): Section | undefined {
  const d = data.deduplication;
  if (!d) return undefined;
  const removed = Object.values(d.removedBySplit).reduce((a, b) => a + b, 0);
  const merged = Object.values(d.mergedBySplit).reduce((a, b) => a + b, 0);
  const copy = d.match === 'near' ? 'exact or near copy (the leakage check\'s meaning)' : 'byte-identical copy';
  const body: Content[] = [
    h(
      'p',
      {},
      `${formatCount(removed)} of ${formatCount(d.rowsBefore)} rows removed from ${d.from.join(', ')}: each was a ${copy} of an image in a split it must not see. `,
      merged ? `${formatCount(merged)} more were merged into an earlier copy in their own split. ` : '',
      `${formatCount(d.rowsAfter)} rows remain.`,
    ),
  ];
  const pairs = Object.entries(d.removedByPair);
  if (pairs.length) body.push(table(['removed from × copy kept in', { title: 'rows removed', numeric: true }], pairs.map(([pair, n]) => [pair, formatCount(n)])));
  const examples = Object.values(d.examples).flat();
  if (examples.length) {
    body.push(
      h('h3', {}, 'Examples (removed, kept)'),
      table(
        ['images', 'removed (split · row · label)', 'kept (split · row · label)'],
        examples.map((e) => [
          e.thumbnail ? h('img', { src: e.thumbnail, alt: `row ${e.removed.row} of ${e.removed.split} and its copy`, class: 'thumb' }) : '',
          h('code', {}, `${e.removed.split} · ${e.removed.row} · ${e.removed.label}`),
          h('code', {}, `${e.kept.split} · ${e.kept.row} · ${e.kept.label}`),
        ]),
      ),
    );
  }
  return { id: 'deduplication', title: 'Deduplication', body };
}

function modelSection(data: ReportData): Section | undefined {
  const model = data.model;
  if (!model) return undefined;
  const rows: Content[][] = model.layers.map((l) => [h('code', {}, l.name), l.className, h('code', {}, l.outputShape), formatCount(l.params)]);
  rows.push([h('strong', {}, 'total'), '', '', h('strong', {}, formatCount(model.totalParams))]);
  const trainable = model.trainableParams !== undefined ? ` (${formatCount(model.trainableParams)} trainable)` : '';
  return {
    id: 'model',
    title: 'Model',
    body: [
      h('p', {}, `${model.layers.length} layers, ${formatCount(model.totalParams)} parameters${trainable}.`),
      table(['layer', 'type', 'output shape', { title: 'params', numeric: true }], rows),
    ],
  };
}

/** "; compare Figure n of the paper" where the pipeline asks for it (report param paperFigures). */
function paperFigure(data: ReportData, n: number): string {
  return data.paperFigures ? `; compare Figure ${n} of the paper` : '';
}

function figure(svg: string | undefined, caption: string): Raw | undefined {
  return svg ? h('figure', {}, raw(svg), h('figcaption', {}, caption)) : undefined;
}

function trainingSection(data: ReportData, charts: ChartSvgs): Section | undefined {
  const history = data.history;
  if (!history) return undefined;
  const last = history[history.length - 1];
  const totalSeconds = history.every((r) => r.seconds !== undefined) ? history.reduce((a, r) => a + (r.seconds ?? 0), 0) : undefined;
  const best = history.reduce<typeof last | undefined>(
    (b, r) => (r.valAccuracy !== undefined && (b?.valAccuracy === undefined || r.valAccuracy > b.valAccuracy) ? r : b),
    undefined,
  );
  const t = data.training ?? {};
  const facts = [
    `${history.length} epochs`,
    totalSeconds !== undefined ? ` in ${formatSeconds(totalSeconds)}` : '',
    t.stoppedEarly ? ' (stopped early)' : '',
    `. Last epoch: train accuracy ${formatPercent(last.accuracy)}, validation accuracy ${formatPercent(last.valAccuracy)}`,
    best ? `; best validation accuracy ${formatPercent(best.valAccuracy)} at epoch ${best.epoch}.` : '.',
    t.bestEpoch !== undefined && t.monitor
      ? ` Best epoch by ${t.monitor}: ${t.bestEpoch}${t.restoredBest ? ' (the saved model holds its weights)' : ''}.`
      : '',
    trainedOn(t) ? ` ${trainedOn(t)}` : '',
  ];
  return {
    id: 'training',
    title: 'Training curves',
    body: [
      h('p', {}, ...facts),
      h(
        'div',
        { class: 'grid2' },
        figure(charts.accuracy, `Train (solid) and validation (dashed) accuracy per epoch${paperFigure(data, 1)}.`),
        figure(charts.loss, `Train (solid) and validation (dashed) loss per epoch${paperFigure(data, 2)}.`),
        figure(charts.lr, 'The learning rate of each epoch.'),
      ),
    ],
  };
}

function metricsTable(view: MetricsView): Raw {
  return table(
    ['split', { title: 'accuracy', numeric: true }, { title: 'balanced accuracy', numeric: true }, { title: 'macro F1', numeric: true }, { title: 'loss', numeric: true }, { title: 'rows', numeric: true }],
    view.splits.map((s) => [s.split, formatPercent(s.accuracy), formatPercent(s.balancedAccuracy), formatNumber(s.macroF1), formatNumber(s.loss), formatCount(s.count)]),
  );
}

function perClassTable(split: SplitMetrics): Raw | undefined {
  if (!split.perClass.length) return undefined;
  return table(
    ['class', { title: 'precision', numeric: true }, { title: 'recall', numeric: true }, { title: 'F1', numeric: true }, { title: 'support', numeric: true }],
    split.perClass.map((r) => [r.class, formatNumber(r.precision), formatNumber(r.recall), formatNumber(r.f1), formatCount(r.support)]),
  );
}

function evaluationSection(data: ReportData, charts: ChartSvgs): Section | undefined {
  const metrics = data.metrics;
  if (!metrics) return undefined;
  const lead = headlineSplit(metrics);
  const body: Content[] = [metricsTable(metrics)];
  if (inferredIn(metrics)) body.push(h('p', { id: 'inference-precision' }, inferredIn(metrics)));
  if (lead) {
    body.push(
      h(
        'div',
        { class: 'row' },
        figure(charts.confusion, `Rows: true class; columns: predicted class; numbers are counts on ${lead.split}, shading is the share of the row${paperFigure(data, 3)}. Empty cells are zero.`),
        lead.perClass.length ? h('div', {}, h('h3', {}, `Per class (${lead.split})`), perClassTable(lead)) : undefined,
      ),
    );
  }
  const predictions = data.predictions;
  if (predictions) {
    body.push(
      h('h3', {}, `Precision and recall per class (${predictions.split})`),
      h(
        'div',
        { class: 'row' },
        figure(charts.pr, `Each class against the rest, ranking the ${formatCount(predictions.rows)} rows by the probability given to the class; the table gives the area under each curve (average precision).`),
        table(
          ['class', { title: 'average precision', numeric: true }, { title: 'rows', numeric: true }],
          predictions.curves.map((c) => [c.class, formatNumber(c.averagePrecision), formatCount(c.positives)]),
          { id: 'average-precision' },
        ),
      ),
    );
    body.push(mistakesGallery(predictions));
  }
  return { id: 'evaluation', title: 'Evaluation', body };
}

/** The most confident mistakes as small images with their true and predicted class. */
function mistakesGallery(p: NonNullable<ReportData['predictions']>): Content {
  const heading = h('h3', {}, `Most confident mistakes (${p.split})`);
  if (p.mistakes.length === 0) return [heading, h('p', {}, `No mistakes: every one of the ${formatCount(p.rows)} rows was predicted right.`)];
  const className = (k: number) => p.classes[k] ?? String(k);
  return [
    heading,
    h(
      'p',
      {},
      `${formatCount(p.wrong)} of ${formatCount(p.rows)} rows were predicted wrong; ` +
        `${p.mistakes.length === p.wrong ? 'all of them' : `the ${p.mistakes.length} given the highest probability`} below, most confident first.`,
    ),
    h(
      'div',
      { class: 'gallery', id: 'mistakes' },
      p.mistakes.map((m) =>
        h(
          'div',
          { class: 'mistake', 'data-row': m.row, 'data-true': className(m.truth), 'data-predicted': className(m.predicted), 'data-probability': m.probability },
          m.thumbnail ? h('img', { src: m.thumbnail, alt: `row ${m.row}: ${className(m.truth)} predicted as ${className(m.predicted)}`, class: 'thumb' }) : undefined,
          h('div', {}, h('strong', {}, className(m.predicted)), ` ${formatPercent(m.probability)}`),
          h('div', { class: 'k' }, `true: ${className(m.truth)}`),
          h('div', { class: 'k' }, `row ${m.row} · source ${m.source}`),
        ),
      ),
    ),
  ];
}

function referenceSection(data: ReportData): Section | undefined {
  if (!data.reference || !data.metrics) return undefined;
  const ours = data.metrics;
  const ref = data.reference;
  // Splits the reference also has; all of them when none are shared (e.g. differently named splits).
  const shared = ours.splits.map((s) => s.split).filter((name) => ref.splits.some((r) => r.split === name));
  const splits = shared.length ? shared : [...new Set([...ours.splits.map((s) => s.split), ...ref.splits.map((s) => s.split)])];
  const rows: Content[][] = [];
  for (const split of splits) {
    const a = ours.splits.find((s) => s.split === split);
    const b = ref.splits.find((s) => s.split === split);
    const metric = (name: string, get: (s: SplitMetrics) => number | undefined, fmt: (v: number | undefined) => string, points: boolean) => {
      const va = a && get(a);
      const vb = b && get(b);
      const delta = points ? formatPointDelta(vb, va) : vb !== undefined && va !== undefined ? formatNumber(vb - va) : '—';
      rows.push([split, name, fmt(va), fmt(vb), delta]);
    };
    metric('accuracy', (s) => s.accuracy, (v) => formatPercent(v), true);
    metric('balanced accuracy', (s) => s.balancedAccuracy, (v) => formatPercent(v), true);
    metric('macro F1', (s) => s.macroF1, (v) => formatNumber(v), false);
  }
  const leadOurs = headlineSplit(ours);
  const leadRef = leadOurs && ref.splits.find((s) => s.split === leadOurs.split);
  const gap =
    leadOurs?.accuracy !== undefined && leadRef?.accuracy !== undefined
      ? h(
          'p',
          {},
          `On ${leadOurs.split}, ${data.referenceLabel} scores ${formatPercent(leadRef.accuracy)} accuracy and ${data.label} `,
          `${formatPercent(leadOurs.accuracy)}: a difference of ${formatPointDelta(leadRef.accuracy, leadOurs.accuracy)}.`,
        )
      : undefined;
  return {
    id: 'reference',
    title: `Compared with ${data.referenceLabel}`,
    body: [
      gap,
      table(
        ['split', 'metric', { title: data.label, numeric: true }, { title: data.referenceLabel, numeric: true }, { title: `${data.referenceLabel} − ${data.label}`, numeric: true }],
        rows,
      ),
    ],
  };
}

function headlineCards(data: ReportData): Raw | undefined {
  const lead = data.metrics && headlineSplit(data.metrics);
  if (!lead) return undefined;
  const ref = data.reference?.splits.find((s) => s.split === lead.split);
  const card = (k: string, v: string, d?: string) => h('div', { class: 'card' }, h('div', { class: 'k' }, k), h('div', { class: 'v' }, v), d ? h('div', { class: 'd' }, d) : undefined);
  return h(
    'div',
    { class: 'cards' },
    card(`${lead.split} accuracy`, formatPercent(lead.accuracy), data.label),
    card(`${lead.split} balanced accuracy`, formatPercent(lead.balancedAccuracy), 'mean recall over classes'),
    card(`${lead.split} macro F1`, formatNumber(lead.macroF1)),
    ref ? card(`${lead.split} accuracy`, formatPercent(ref.accuracy), data.referenceLabel) : undefined,
  );
}

export function renderHtml(data: ReportData, charts: ChartSvgs): string {
  const sections = [
    pipelineSection(data),
    classCountsSection(data),
    leakageSection(data),
    deduplicationSection(data),
    modelSection(data),
    trainingSection(data, charts),
    evaluationSection(data, charts),
    referenceSection(data),
  ].filter((s): s is Section => !!s);
  if (data.notes.length) {
    sections.push({ id: 'notes', title: 'Not shown', body: h('ul', { class: 'notes' }, data.notes.map((n) => h('li', {}, n))) });
  }
  const pipeline = data.pipeline;
  const sub = pipeline ? [h('span', {}, 'pipeline ', h('code', {}, pipeline.name)), h('span', {}, `backend ${pipeline.backend.resolved}`)] : [];
  const body = h(
    'main',
    {},
    h(
      'header',
      { class: 'top' },
      h('h1', {}, data.title),
      h('div', { class: 'sub' }, sub),
      h('nav', { class: 'toc', 'aria-label': 'sections' }, sections.map((s) => h('a', { href: `#${s.id}` }, s.title))),
    ),
    leakageVerdict(data.leakage, data.protocol).leaky ? leakageBanner(data) : undefined,
    headlineCards(data),
    sections.map((s) => h('section', { id: s.id }, h('h2', {}, s.title), s.body)),
    h('footer', {}, 'Generated by pipe. This file is self-contained: it loads nothing from the network.'),
  );
  // A CSP that forbids scripts and every external load documents (and enforces) that the page is inert.
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>${render(data.title)}</title>
<style>${REPORT_CSS}</style>
</head>
<body>
${render(body)}
</body>
</html>
`;
}
