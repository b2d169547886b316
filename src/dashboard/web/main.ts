// The dashboard page's router: #/ runs, #/run/<id>, #/compare/<id>,<id>,..., #/mistakes/<id>[/<stage>/<split>
// [/<true>/<predicted>]], #/sweep/<id>. Pages build their own DOM.
import { comparePage } from './compare-page.js';
import { el, show } from './dom.js';
import { mistakesPage } from './mistakes-page.js';
import { runPage } from './run-page.js';
import { runsPage } from './runs-page.js';
import { sweepPage } from './sweep-page.js';

const root = document.getElementById('app')!;
let leave: (() => void) | undefined;

async function route(): Promise<void> {
  leave?.();
  leave = undefined;
  const [, page, arg] = /^#\/([a-z]*)\/?(.*)$/.exec(location.hash) ?? [];
  try {
    if (page === 'run' && arg) leave = await runPage(root, decodeURIComponent(arg));
    else if (page === 'compare' && arg) leave = await comparePage(root, arg.split(',').map(decodeURIComponent));
    else if (page === 'mistakes' && arg) {
      const [id, stage, split, t, p] = arg.split('/').map(decodeURIComponent);
      const cell = t !== undefined && p !== undefined && /^\d+$/.test(t) && /^\d+$/.test(p) ? ([Number(t), Number(p)] as [number, number]) : undefined;
      leave = await mistakesPage(root, id, { stage, split, cell });
    } else if (page === 'sweep' && arg) leave = await sweepPage(root, decodeURIComponent(arg));
    else leave = await runsPage(root);
  } catch (err) {
    show(root, el('h1', {}, 'Cannot show this'), el('p', { class: 'status-failed' }, err instanceof Error ? err.message : String(err)));
  }
}

window.addEventListener('hashchange', () => void route());
void route();
