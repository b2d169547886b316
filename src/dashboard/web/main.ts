// The dashboard page's router: #/ runs, #/run/<id>, #/compare/<id>,<id>,... Pages build their own DOM.
import { comparePage } from './compare-page.js';
import { el, show } from './dom.js';
import { runPage } from './run-page.js';
import { runsPage } from './runs-page.js';

const root = document.getElementById('app')!;
let leave: (() => void) | undefined;

async function route(): Promise<void> {
  leave?.();
  leave = undefined;
  const [, page, arg] = /^#\/([a-z]*)\/?(.*)$/.exec(location.hash) ?? [];
  try {
    if (page === 'run' && arg) leave = await runPage(root, decodeURIComponent(arg));
    else if (page === 'compare' && arg) leave = await comparePage(root, arg.split(',').map(decodeURIComponent));
    else leave = await runsPage(root);
  } catch (err) {
    show(root, el('h1', {}, 'Cannot show this'), el('p', { class: 'status-failed' }, err instanceof Error ? err.message : String(err)));
  }
}

window.addEventListener('hashchange', () => void route());
void route();
