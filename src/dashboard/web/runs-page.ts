// The runs page: one table of every run (status, pipeline, variant, start, duration, the params that differ,
// headline metrics, leakage), sorted and filtered on any column, with checkboxes to pick runs to compare.
// Rows are built in one pass from one /api/runs response.
import type { RunSummary, RunsList } from '../api.js';
import { duration, el, leaf, number, percent, runLink, show, when } from './dom.js';
import { isStatic, load } from './data.js';

interface Column {
  key: string;
  label: string;
  numeric: boolean;
  /** What sorting compares. */
  value(r: RunSummary): string | number | undefined;
  cell(r: RunSummary): Node | string;
}

function columns(list: RunsList): Column[] {
  const split = list.runs.find((r) => r.split)?.split ?? 'test';
  const metric = (key: 'accuracy' | 'balancedAccuracy' | 'macroF1', label: string, format: (v: number | undefined) => string): Column => ({
    key,
    label,
    numeric: true,
    value: (r) => r[key],
    cell: (r) => format(r[key]),
  });
  return [
    { key: 'id', label: 'run', numeric: false, value: (r) => r.id, cell: (r) => runLink(r.id) },
    { key: 'status', label: 'status', numeric: false, value: (r) => r.status, cell: (r) => el('span', { class: `status-${r.status}` }, r.status) },
    { key: 'pipeline', label: 'pipeline', numeric: false, value: (r) => r.pipeline, cell: (r) => r.pipeline },
    { key: 'variant', label: 'variant', numeric: false, value: (r) => r.variant, cell: (r) => (r.variant && r.sweep ? el('a', { href: `#/sweep/${encodeURIComponent(r.sweep)}`, title: `sweep ${r.sweep}` }, r.variant) : r.variant ?? '') },
    { key: 'startedAt', label: 'started', numeric: false, value: (r) => r.startedAt, cell: (r) => when(r.startedAt) },
    { key: 'seconds', label: 'duration', numeric: true, value: (r) => r.seconds, cell: (r) => duration(r.seconds) },
    { key: 'ran', label: 'ran', numeric: true, value: (r) => r.ran, cell: (r) => `${r.ran}/${r.stages}` },
    ...list.params.map(
      (p): Column => ({
        key: `param:${p}`,
        label: p,
        numeric: false,
        value: (r) => (p in r.params ? leaf(r.params[p]) : undefined),
        cell: (r) => (p in r.params ? leaf(r.params[p]) : '—'),
      }),
    ),
    metric('accuracy', `${split} acc`, percent),
    metric('balancedAccuracy', 'bal. acc', percent),
    metric('macroF1', 'macro F1', number),
    {
      key: 'leakage',
      label: 'leakage',
      numeric: false,
      value: (r) => (r.leaky === undefined ? undefined : r.leaky ? 'LEAK' : 'none'),
      cell: (r) => (r.leaky === undefined ? '—' : el('span', { class: r.leaky ? 'leak' : '', title: r.leakage }, r.leaky ? 'LEAK' : 'none')),
    },
  ];
}

function compareValues(a: string | number | undefined, b: string | number | undefined): number {
  // Runs without the value go last whichever way the column is sorted.
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? 1 : -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

export interface RunsPageState {
  sort?: { key: string; descending: boolean };
  filter: string;
  picked: Set<string>;
}

export const runsState: RunsPageState = { filter: '', picked: new Set() };

/** Show the runs page in `root`; resolves to a function that stops its refreshing. */
export async function runsPage(root: HTMLElement): Promise<() => void> {
  let list = await load<RunsList>('/api/runs');
  const store = document.getElementById('store');
  if (store) store.textContent = list.store;
  const table = el('table', { id: 'runs' });
  const count = el('span', { class: 'muted', id: 'runs-count' });
  const empty = el('p', { class: 'muted', id: 'no-runs' }, `no runs recorded in ${list.store} yet; start one with 'pipe run <pipeline.yaml>' (this page shows it as it starts)`);
  const compare = el('button', { id: 'compare', type: 'button' }, 'Compare selected');
  const filter = el('input', { type: 'search', id: 'filter', placeholder: 'filter: any text in a row, e.g. tiny or running' });
  filter.value = runsState.filter;

  const render = () => {
    const cols = columns(list);
    const needle = runsState.filter.trim().toLowerCase();
    const text = (r: RunSummary) => cols.map((c) => String(c.value(r) ?? '')).join('\u0000').toLowerCase();
    let rows = needle ? list.runs.filter((r) => text(r).includes(needle)) : [...list.runs];
    const sort = runsState.sort;
    const column = sort && cols.find((c) => c.key === sort.key);
    if (sort && column) {
      rows.sort((a, b) => {
        const [x, y] = [column.value(a), column.value(b)];
        if (x === undefined || y === undefined) return compareValues(x, y);
        return sort.descending ? compareValues(y, x) : compareValues(x, y);
      });
    }
    const head = el(
      'tr',
      {},
      el('th', {}, ''),
      ...cols.map((c) => {
        const arrow = sort?.key === c.key ? (sort.descending ? ' ▼' : ' ▲') : '';
        const button = el('button', { type: 'button', 'data-sort': c.key }, c.label + arrow);
        button.addEventListener('click', () => {
          runsState.sort = { key: c.key, descending: sort?.key === c.key ? !sort.descending : c.numeric };
          render();
        });
        return el('th', { class: c.numeric ? 'num' : undefined, 'aria-sort': arrow ? (sort!.descending ? 'descending' : 'ascending') : undefined }, button);
      }),
    );
    const body = el('tbody');
    for (const r of rows) {
      const pick = el('input', { type: 'checkbox', 'data-run': r.id, 'aria-label': `compare ${r.id}` });
      pick.checked = runsState.picked.has(r.id);
      pick.addEventListener('change', () => {
        if (pick.checked) runsState.picked.add(r.id);
        else runsState.picked.delete(r.id);
        updateCompare();
      });
      body.append(
        el('tr', { 'data-run': r.id }, el('td', {}, pick), ...cols.map((c) => el('td', { class: c.numeric ? 'num' : undefined }, c.cell(r)))),
      );
    }
    for (const id of list.damaged) {
      body.append(el('tr', { class: 'damaged', 'data-damaged': id }, el('td', {}, ''), el('td', {}, id), el('td', { colspan: String(cols.length - 1) }, 'damaged: its run.json cannot be read')));
    }
    show(table, el('thead', {}, head), body);
    empty.hidden = list.runs.length + list.damaged.length > 0;
    count.textContent = `${rows.length} of ${list.runs.length} runs${list.damaged.length ? `, ${list.damaged.length} damaged` : ''}`;
  };
  const updateCompare = () => {
    const n = runsState.picked.size;
    compare.textContent = `Compare selected (${n})`;
    // An exported site has no server to compare runs: each comparison is made on request.
    compare.disabled = isStatic || n < 2 || n > 20;
    if (isStatic) compare.title = 'comparing runs needs pipe ui';
  };
  compare.addEventListener('click', () => {
    const ids = list.runs.map((r) => r.id).filter((id) => runsState.picked.has(id));
    location.hash = `#/compare/${ids.map(encodeURIComponent).join(',')}`;
  });
  filter.addEventListener('input', () => {
    runsState.filter = filter.value;
    render();
  });

  show(root, el('h1', {}, 'Runs'), el('div', { class: 'toolbar' }, filter, compare, count), empty, el('div', { class: 'scroll' }, table));
  render();
  updateCompare();
  // Runs start and end while the page is open: refresh the list (one request) every few seconds.
  let stopped = false;
  const timer = setInterval(async () => {
    if (stopped || isStatic) return;
    list = await load<RunsList>('/api/runs').catch(() => list);
    if (!stopped) render();
  }, 3000);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
