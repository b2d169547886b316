// A run's mistakes: the confusion matrix of an evaluated split built from its predictions, where a click on a
// cell shows the images of that true class predicted as that class with their probabilities; the most confident
// mistakes; and the groups of (near) identical images the leakage check found, with their thumbnails.
import type { EvaluatedSplit, LeakGroup, MistakesDetail } from '../api.js';
import { confusionTable } from './charts.js';
import { el, runLink, show } from './dom.js';
import { load } from './data.js';

/** How many images a cell or the confident-mistakes gallery shows at most. */
export const SHOWN = 120;
export const CONFIDENT = 48;

/** Where the page stands: the split shown and the cell picked; kept in the URL so it can be shared. */
export interface MistakesAt {
  stage?: string;
  split?: string;
  cell?: [number, number];
}

export function mistakesHash(id: string, at: MistakesAt): string {
  const parts = [id, ...(at.stage && at.split ? [at.stage, at.split, ...(at.cell ? at.cell.map(String) : [])] : [])];
  return `#/mistakes/${parts.map(encodeURIComponent).join('/')}`;
}

interface Item {
  /** Index into the split's columns. */
  i: number;
  probability: number;
}

function probabilityText(p: number): string {
  return `${(p * 100).toFixed(1)}%`;
}

/** One scored image: its thumbnail, its classes and the probabilities given to them. */
function tile(s: EvaluatedSplit, i: number): HTMLElement {
  const row = s.rows[i];
  const [t, p] = [s.truth[i], s.predicted[i]];
  const name = (k: number) => s.classes[k] ?? String(k);
  const probs = s.probabilities[i];
  const all = probs.map((q, k) => `${name(k)} ${probabilityText(q)}`).join('\n');
  return el(
    'figure',
    { class: `tile${t === p ? '' : ' wrong'}`, 'data-row': String(row), 'data-true': name(t), 'data-predicted': name(p), 'data-probability': String(probs[p]), title: all },
    s.images ? el('img', { src: `${s.images}${row}.png`, alt: `row ${row}: ${name(t)} predicted as ${name(p)}`, loading: 'lazy', width: '72', height: '72' }) : el('div', { class: 'no-image' }, 'no image'),
    el(
      'figcaption',
      {},
      el('strong', {}, name(p)),
      ` ${probabilityText(probs[p])}`,
      el('br'),
      el('span', { class: 'muted' }, t === p ? `row ${row}` : `true ${name(t)} ${probabilityText(probs[t])} · row ${row}`),
    ),
  );
}

function gallery(s: EvaluatedSplit, items: Item[], id: string, limit: number): HTMLElement {
  const shown = items.slice(0, limit);
  return el(
    'div',
    { id, class: 'gallery', 'data-count': String(items.length) },
    ...shown.map((item) => tile(s, item.i)),
    items.length === 0 ? el('p', { class: 'muted' }, 'no images: no row is in this cell') : null,
    items.length > shown.length ? el('p', { class: 'muted' }, `and ${items.length - shown.length} more, less confident`) : null,
  );
}

/** The split's rows with true class `t` predicted as `p`, most confident first. */
export function cellItems(s: EvaluatedSplit, t: number, p: number): Item[] {
  const items: Item[] = [];
  for (let i = 0; i < s.rows.length; i++) if (s.truth[i] === t && s.predicted[i] === p) items.push({ i, probability: s.probabilities[i][p] });
  return items.sort((a, b) => b.probability - a.probability || s.rows[a.i] - s.rows[b.i]);
}

/** Wrong predictions by the probability given to the predicted class, highest first. */
export function confidentItems(s: EvaluatedSplit): Item[] {
  const items: Item[] = [];
  for (let i = 0; i < s.rows.length; i++) if (s.truth[i] !== s.predicted[i]) items.push({ i, probability: s.probabilities[i][s.predicted[i]] });
  return items.sort((a, b) => b.probability - a.probability || s.rows[a.i] - s.rows[b.i]);
}

function matrixOf(s: EvaluatedSplit): number[][] {
  const m = s.classes.map(() => s.classes.map(() => 0));
  s.truth.forEach((t, i) => {
    if (m[t] && m[t][s.predicted[i]] !== undefined) m[t][s.predicted[i]]++;
  });
  return m;
}

function leaksSection(leaks: LeakGroup[]): HTMLElement {
  if (leaks.length === 0) return el('p', { class: 'muted', id: 'leaks' }, 'the leakage check found no shared images (or the run has none)');
  return el(
    'table',
    { id: 'leaks' },
    el('thead', {}, el('tr', {}, el('th', {}, 'copies'), el('th', {}, 'where'), el('th', { class: 'num' }, 'rows'), el('th', {}, 'images'), el('th', {}, 'rows (split · row · label)'), el('th', {}, 'labels differ'))),
    el(
      'tbody',
      {},
      ...leaks.map((g) =>
        el(
          'tr',
          { 'data-kind': g.kind },
          el('td', {}, g.kind === 'near' ? 'near' : 'exact'),
          el('td', {}, g.pair),
          el('td', { class: 'num' }, String(g.size)),
          el('td', {}, g.thumbnail ? el('img', { src: g.thumbnail, alt: `the ${g.rows.length} images of this group`, class: 'strip' }) : ''),
          el('td', {}, g.rows.map((r) => `${r.split} · ${r.row ?? '?'} · ${r.label}`).join('  |  ')),
          el('td', { class: g.labelConflict ? 'leak' : undefined }, g.labelConflict ? 'yes' : 'no'),
        ),
      ),
    ),
  );
}

export async function mistakesPage(root: HTMLElement, id: string, at: MistakesAt): Promise<() => void> {
  const detail = await load<MistakesDetail>(`/api/runs/${encodeURIComponent(id)}/mistakes`);
  const pickSplit = (stage?: string, split?: string) =>
    detail.splits.find((s) => s.stage === stage && s.split === split) ?? detail.splits.find((s) => s.split === detail.run.split) ?? detail.splits[0];
  let current = pickSplit(at.stage, at.split);
  let cell = current && at.stage === current.stage && at.split === current.split ? at.cell : undefined;

  // Names its run, so a page (or a test) can tell this run's galleries from the previous page's.
  const body = el('div', { 'data-run': id });
  const draw = () => {
    if (!current) {
      show(body, el('p', { class: 'muted' }, 'no predictions recorded: the run has no evaluate stage that wrote predictions.json'));
      return;
    }
    const s = current;
    if (cell && !(s.classes[cell[0]] !== undefined && s.classes[cell[1]] !== undefined)) cell = undefined;
    history.replaceState(null, '', mistakesHash(id, { stage: s.stage, split: s.split, cell }));
    const picker = el('select', { id: 'split', 'aria-label': 'evaluated split' }, ...detail.splits.map((d, k) => el('option', { value: String(k) }, `${d.stage} · ${d.split}`)));
    picker.value = String(detail.splits.indexOf(s));
    picker.addEventListener('change', () => {
      current = detail.splits[Number(picker.value)];
      cell = undefined;
      draw();
    });
    const wrong = s.truth.filter((t, i) => t !== s.predicted[i]).length;
    const matrix = confusionTable({ stage: s.stage, split: s.split, classes: s.classes, matrix: matrixOf(s) }, `${s.stage} · ${s.split}: click a cell for its images`, {
      picked: cell,
      onPick: (t, p) => {
        cell = [t, p];
        draw();
        document.getElementById('cell')?.scrollIntoView({ block: 'nearest' });
      },
    });
    const name = (k: number) => s.classes[k] ?? String(k);
    const cellBox = cell
      ? el(
          'section',
          { id: 'cell', 'data-true': name(cell[0]), 'data-predicted': name(cell[1]) },
          el('h2', {}, `True ${name(cell[0])}, predicted ${name(cell[1])}`),
          gallery(s, cellItems(s, cell[0], cell[1]), 'cell-gallery', SHOWN),
        )
      : el('p', { class: 'muted', id: 'cell' }, 'pick a cell of the matrix to see its images');
    const confident = confidentItems(s);
    show(
      body,
      detail.splits.length > 1 ? el('div', { class: 'toolbar' }, el('label', {}, 'split ', picker)) : null,
      el('p', {}, `${wrong} of ${s.rows.length} rows predicted wrong.`, s.images ? '' : ' (The evaluated dataset is not in the store: no images.)'),
      el('div', { class: 'matrices' }, matrix),
      cellBox,
      el('h2', {}, `Most confident mistakes (${Math.min(CONFIDENT, confident.length)} of ${confident.length})`),
      confident.length ? gallery(s, confident, 'confident-mistakes', CONFIDENT) : el('p', { class: 'muted', id: 'confident-mistakes' }, 'no mistakes'),
    );
  };
  show(
    root,
    el('h1', {}, 'Mistakes of run ', runLink(detail.run.id)),
    el('p', { class: 'muted' }, detail.run.pipeline, detail.run.variant ? ` (variant ${detail.run.variant})` : ''),
    body,
    el('h2', {}, 'Images the leakage check found in more than one place'),
    leaksSection(detail.leaks),
  );
  draw();
  return () => undefined;
}
