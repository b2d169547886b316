// The runs page: one table of every run (name, status, pipeline, variant, tags, git commit, start, duration, the
// params that differ, headline metrics, leakage, notes), sorted and filtered on any column, with checkboxes to
// pick runs to compare. Rows are built in one pass from one /api/runs response; the list refreshes itself, and
// the table is rebuilt only when the response changed.
import type { RunSummary, RunsList } from '../api.js';
import { preloadCharts } from './charts.js';
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
  const named = list.runs.some((r) => r.name !== undefined);
  const tagged = list.runs.some((r) => r.tags?.length);
  const noted = list.runs.some((r) => r.notes?.length);
  return [
    { key: 'id', label: 'run', numeric: false, value: (r) => r.id, cell: (r) => runLink(r.id) },
    ...(named ? [{ key: 'name', label: 'name', numeric: false, value: (r: RunSummary) => r.name, cell: (r: RunSummary) => r.name ?? '' }] : []),
    { key: 'status', label: 'status', numeric: false, value: (r) => r.status, cell: (r) => el('span', { class: `status-${r.status}` }, r.status) },
    { key: 'pipeline', label: 'pipeline', numeric: false, value: (r) => r.pipeline, cell: (r) => r.pipeline },
    { key: 'variant', label: 'variant', numeric: false, value: (r) => r.variant, cell: (r) => (r.variant && r.sweep ? el('a', { href: `#/sweep/${encodeURIComponent(r.sweep)}`, title: `sweep ${r.sweep}` }, r.variant) : r.variant ?? '') },
    ...(tagged
      ? [{ key: 'tags', label: 'tags', numeric: false, value: (r: RunSummary) => r.tags?.join(' '), cell: (r: RunSummary) => tagList(r.tags) }]
      : []),
    { key: 'commit', label: 'commit', numeric: false, value: (r) => (r.git ? `${r.git.commit}${r.git.dirty ? '*' : ''}` : undefined), cell: (r) => commit(r.git) },
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
    ...(noted ? [{ key: 'notes', label: 'notes', numeric: false, value: (r: RunSummary) => r.notes?.map((n) => n.text).join('\n'), cell: (r: RunSummary) => notes(r) }] : []),
  ];
}

function tagList(tags: string[] | undefined): Node | string {
  return tags?.length ? el('span', { class: 'tags' }, ...tags.map((t) => el('span', { class: 'tag' }, t))) : '';
}

/** The short commit, with a mark when tracked files had uncommitted changes. */
export function commit(git: RunSummary['git']): Node | string {
  if (!git) return '—';
  const title = `${git.commit}${git.dirty ? ' with uncommitted changes' : ''}`;
  return el('span', { class: 'commit', title }, git.commit.slice(0, 7), git.dirty ? el('span', { class: 'dirty', 'aria-label': 'uncommitted changes' }, '*') : null);
}

/** The latest note (its first line, cut short), and how many came before; all of them on hover. */
function notes(r: RunSummary): Node | string {
  const all = r.notes ?? [];
  if (!all.length) return '';
  const last = all[all.length - 1].text.split('\n')[0];
  const shown = last.length > 60 ? `${last.slice(0, 59)}…` : last;
  const title = all.map((n) => `${n.at.replace('T', ' ').slice(0, 16)}  ${n.text}`).join('\n');
  return el('span', { class: 'note', title }, shown, all.length > 1 ? el('span', { class: 'muted' }, ` (+${all.length - 1})`) : null);
}

/**
 * The filter: each word must be found in the row; a word `column:text` (e.g. tags:baseline, status:failed,
 * train.epochs:3) only in that column, named by its heading or key.
 */
function rowFilter(cols: Column[], text: string): (r: RunSummary) => boolean {
  const terms = text.trim().toLowerCase().split(/\s+/).filter(Boolean);
  const tests = terms.map((term) => {
    const m = /^([^:]+):(.*)$/.exec(term);
    const column = m && cols.find((c) => c.label.toLowerCase() === m[1] || c.key.toLowerCase() === m[1] || c.key.toLowerCase() === `param:${m[1]}`);
    if (column && m) return (r: RunSummary) => String(column.value(r) ?? '').toLowerCase().includes(m[2]);
    return (r: RunSummary) => cols.some((c) => String(c.value(r) ?? '').toLowerCase().includes(term));
  });
  return (r) => tests.every((t) => t(r));
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
  /** Which page of PAGE_ROWS rows shows (sorting and filtering cover every run; only the table is paged). */
  page: number;
  /** Every row at once (slower to draw with thousands of runs). */
  all: boolean;
}

export const runsState: RunsPageState = { filter: '', picked: new Set(), page: 0, all: false };

/**
 * Rows drawn at once. A browser lays out a table of thousands of rows in seconds, so a big store is shown a page
 * at a time; a hundred rows draw at once.
 */
export const PAGE_ROWS = 100;

/** Show the runs page in `root`; resolves to a function that stops its refreshing. */
export async function runsPage(root: HTMLElement): Promise<() => void> {
  let list = await load<RunsList>('/api/runs');
  const store = document.getElementById('store');
  if (store) store.textContent = list.store;
  const table = el('table', { id: 'runs' });
  const count = el('span', { class: 'muted', id: 'runs-count' });
  const empty = el('p', { class: 'muted', id: 'no-runs' }, `no runs recorded in ${list.store} yet; start one with 'pipe run <pipeline.yaml>' (this page shows it as it starts)`);
  const compare = el('button', { id: 'compare', type: 'button' }, 'Compare selected');
  const filter = el('input', { type: 'search', id: 'filter', placeholder: 'filter: text in a row, or column:text, e.g. tags:baseline status:failed' });
  filter.value = runsState.filter;

  const render = () => {
    const cols = columns(list);
    const rows = runsState.filter.trim() ? list.runs.filter(rowFilter(cols, runsState.filter)) : [...list.runs];
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
          runsState.page = 0;
          render();
        });
        return el('th', { class: c.numeric ? 'num' : undefined, 'aria-sort': arrow ? (sort!.descending ? 'descending' : 'ascending') : undefined }, button);
      }),
    );
    const pages = runsState.all ? 1 : Math.max(1, Math.ceil(rows.length / PAGE_ROWS));
    runsState.page = Math.min(runsState.page, pages - 1);
    const first = runsState.all ? 0 : runsState.page * PAGE_ROWS;
    const shown = runsState.all ? rows : rows.slice(first, first + PAGE_ROWS);
    const body = el('tbody');
    for (const r of shown) {
      const pick = el('input', { type: 'checkbox', 'data-run': r.id, 'aria-label': `compare ${r.id}` });
      pick.checked = runsState.picked.has(r.id);
      body.append(
        el('tr', { 'data-run': r.id }, el('td', {}, pick), ...cols.map((c) => el('td', { class: c.numeric ? 'num' : undefined }, c.cell(r)))),
      );
    }
    // The damaged records come after every run: on the last page.
    if (runsState.page === pages - 1) {
      for (const id of list.damaged) {
        body.append(el('tr', { class: 'damaged', 'data-damaged': id }, el('td', {}, ''), el('td', {}, id), el('td', { colspan: String(cols.length - 1) }, 'damaged: its run.json cannot be read (pipe runs rm removes it)')));
      }
    }
    show(table, el('thead', {}, head), body);
    empty.hidden = list.runs.length + list.damaged.length > 0;
    count.textContent = `${rows.length} of ${list.runs.length} runs${list.damaged.length ? `, ${list.damaged.length} damaged` : ''}`;
    pager.hidden = rows.length <= PAGE_ROWS;
    range.textContent = runsState.all ? `all ${rows.length} rows` : `rows ${rows.length ? first + 1 : 0}–${first + shown.length} of ${rows.length}`;
    previous.disabled = runsState.all || runsState.page === 0;
    next.disabled = runsState.all || runsState.page >= pages - 1;
    all.textContent = runsState.all ? `${PAGE_ROWS} a page` : 'show all';
  };
  const pager = el('span', { class: 'pager', id: 'pager' });
  const previous = el('button', { type: 'button', id: 'page-previous' }, '‹ previous');
  const next = el('button', { type: 'button', id: 'page-next' }, 'next ›');
  const range = el('span', { id: 'page-range' });
  const all = el('button', { type: 'button', id: 'page-all' }, 'show all');
  pager.append(previous, range, next, all);
  const turn = (change: () => void) => () => {
    change();
    render();
  };
  previous.addEventListener('click', turn(() => (runsState.page = Math.max(0, runsState.page - 1))));
  next.addEventListener('click', turn(() => (runsState.page += 1)));
  all.addEventListener('click', turn(() => ((runsState.all = !runsState.all), (runsState.page = 0))));
  // One listener for every row's checkbox.
  table.addEventListener('change', (event) => {
    const pick = event.target as HTMLInputElement;
    const id = pick.getAttribute('data-run');
    if (pick.type !== 'checkbox' || id === null) return;
    if (pick.checked) runsState.picked.add(id);
    else runsState.picked.delete(id);
    updateCompare();
  });
  const updateCompare = () => {
    const n = runsState.picked.size;
    compare.textContent = `Compare selected (${n})`;
    // An exported site has no server to compare runs: each comparison is made on request.
    compare.disabled = n < 2 || n > 20;
  };
  compare.addEventListener('click', () => {
    const ids = list.runs.map((r) => r.id).filter((id) => runsState.picked.has(id));
    location.hash = `#/compare/${ids.map(encodeURIComponent).join(',')}`;
  });
  filter.addEventListener('input', () => {
    runsState.filter = filter.value;
    runsState.page = 0;
    render();
  });

  show(root, el('h1', {}, 'Runs'), el('div', { class: 'toolbar' }, filter, compare, count, pager), empty, el('div', { class: 'scroll' }, table));
  render();
  updateCompare();
  // The compare page draws charts: load their scripts while the person picks runs.
  setTimeout(() => void preloadCharts().catch(() => undefined), 300);
  // Runs start and end while the page is open: refresh the list (one request) every few seconds.
  let stopped = false;
  let last = JSON.stringify(list);
  const timer = setInterval(async () => {
    if (stopped || isStatic) return;
    const text = await fetch('/api/runs', { headers: { accept: 'application/json' } })
      .then((res) => (res.ok ? res.text() : last))
      .catch(() => last);
    if (stopped || text === last) return;
    last = text;
    list = JSON.parse(text) as RunsList;
    render();
  }, 3000);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
