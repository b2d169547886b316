// How pages get their data: from the server's JSON API, or in an exported site (pipe ui --export, opened from
// files or any static host) from the data scripts beside index.html, which call window.pipeData.
import type { ComparedRun } from '../../report/compare.js';
import type { CompareDetail, RunDetail } from '../api.js';
import { fetchJson } from './dom.js';
import { staticDataFile } from './static-paths.js';

declare global {
  interface Window {
    pipeData?: (api: string, value: unknown) => void;
  }
}

/** An exported site says so on its <html> element; nothing answers API requests there. */
export const isStatic = document.documentElement.dataset.site === 'static';

const answers = new Map<string, unknown>();
window.pipeData = (api, value) => void answers.set(api, value);

function loadScript(src: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = src;
    script.onload = () => (script.remove(), resolve());
    script.onerror = () => (script.remove(), reject(new Error(`${src} is not part of this export`)));
    document.head.append(script);
  });
}

const COMPARE = '/api/compare?runs=';

/** The answer to an API request (a path such as /api/runs/<id>). */
export async function load<T>(api: string): Promise<T> {
  if (!isStatic) return fetchJson<T>(api);
  if (api.startsWith(COMPARE)) return (await compareFromFiles(api.slice(COMPARE.length).split(',').map(decodeURIComponent))) as T;
  if (!answers.has(api)) {
    const file = staticDataFile(api);
    if (!file) throw new Error('an exported dashboard has the runs, run, compare, mistakes and sweep pages; this one needs `pipe ui`');
    await loadScript(file);
  }
  if (!answers.has(api)) throw new Error(`no data for ${api} in this export`);
  return answers.get(api) as T;
}

/**
 * What /api/compare answers, made in the page from each run's exported data: any runs may be picked, so an export
 * cannot hold every comparison. The comparison is the server's own code (bundled into the exported script only).
 */
async function compareFromFiles(ids: string[]): Promise<CompareDetail> {
  const [runs, compared] = await Promise.all([
    Promise.all(ids.map((id) => load<RunDetail>(`/api/runs/${id}`))),
    Promise.all(ids.map((id) => load<ComparedRun>(`/api/compared/${id}`))),
  ]);
  const { compareRuns } = await import('../../report/compare.js');
  return { comparison: compareRuns(compared), runs };
}
