// `pipe ui --export DIR`: the dashboard's pages as a static site, for a CI artifact or GitHub Pages. index.html
// runs the same page script (bundled as one classic script: file:// pages cannot load modules), which reads the
// API's answers from data/*.js beside it instead of a server; the mistakes' images are PNG files, the runs'
// reports copies. Everything is written into a folder beside DIR and renamed onto it at the end, so a failed
// export leaves no half-written site.
import { createHash, randomBytes } from 'node:crypto';
import { copyFile, mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { PipeError } from '../errors.js';
import type { RunRecord } from '../runs/record.js';
import { VENDOR, WEB_DIR } from './assets.js';
import { rowPng } from './images.js';
import { pageHtml, PAGE_CSS } from './page.js';
import { comparedRunOf, isRunId, mistakesDetail, runDetail, runsList, sweepDetail, type ImageBase } from './run-data.js';
import { fileInStore } from './store-files.js';
import { staticDataFile, staticDataScript } from './web/static-paths.js';

export interface ExportOptions {
  storeRoot: string;
  dir: string;
  /** Replace a DIR that exists and holds files. */
  force?: boolean;
}

export interface ExportResult {
  dir: string;
  runs: number;
  sweeps: number;
  images: number;
  reports: number;
}

async function isEmptyDir(dir: string): Promise<boolean | undefined> {
  const s = await stat(dir).catch(() => undefined);
  if (!s) return undefined;
  if (!s.isDirectory()) throw new PipeError(`${dir} is a file, not a folder`, { hint: 'give --export a folder to write the site into' });
  return (await readdir(dir)).length === 0;
}

/** The page script and its modules as one classic script. */
async function bundledScript(): Promise<string> {
  const { build } = await import('esbuild');
  const result = await build({ entryPoints: [join(WEB_DIR, 'main.js')], bundle: true, format: 'iife', target: 'es2022', write: false, logLevel: 'silent' });
  return result.outputFiles[0].text;
}

async function writeIn(root: string, relative: string, content: string | Uint8Array): Promise<void> {
  const path = join(root, relative);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content);
}

export async function exportDashboard(options: ExportOptions): Promise<ExportResult> {
  const { storeRoot } = options;
  const dir = resolve(options.dir);
  const empty = await isEmptyDir(dir);
  if (empty === false && !options.force) {
    throw new PipeError(`${dir} exists and is not empty`, { hint: 'give a new or empty folder, or --force to replace what it holds' });
  }
  const temp = join(dirname(dir), `.${basename(dir)}.partial-${randomBytes(4).toString('hex')}`);
  await mkdir(temp, { recursive: true });
  try {
    const result = await writeSite(storeRoot, temp);
    if (empty !== undefined) {
      // Swap in the new site, then drop the old one: DIR is never a mix of the two.
      const old = `${temp}-old`;
      await rename(dir, old);
      await rename(temp, dir);
      await rm(old, { recursive: true, force: true });
    } else {
      await rename(temp, dir);
    }
    return { dir, ...result };
  } catch (err) {
    await rm(temp, { recursive: true, force: true });
    throw err;
  }
}

async function writeSite(storeRoot: string, out: string): Promise<Omit<ExportResult, 'dir'>> {
  await writeIn(out, 'index.html', pageHtml(true));
  await writeIn(out, 'assets/style.css', PAGE_CSS);
  await writeIn(out, 'assets/main.js', await bundledScript());
  await mkdir(join(out, 'vendor'), { recursive: true });
  for (const [name, file] of Object.entries(VENDOR)) await copyFile(file(), join(out, 'vendor', name));

  const data = async (api: string, value: unknown) => writeIn(out, staticDataFile(api)!, staticDataScript(api, value));
  const list = await runsList(storeRoot);
  // Run ids are folder names of the store: only those a URL can name are pages.
  list.runs = list.runs.filter((r) => isRunId(r.id));
  await data('/api/runs', list);

  /** Rows to draw of each dataset, by the folder its images go in (datasets several runs share are drawn once). */
  const images = new Map<string, { dataset: string; rows: Set<number> }>();
  const imageBase: ImageBase = (_record: RunRecord, _stage: string, dataset: string) => {
    const key = createHash('sha256').update(dataset).digest('hex').slice(0, 16);
    if (!images.has(key)) images.set(key, { dataset, rows: new Set() });
    return `images/${key}/`;
  };
  let reports = 0;
  for (const run of list.runs) {
    const detail = await runDetail(storeRoot, run.id);
    if (detail.report) {
      const path = decodeURIComponent(detail.report.slice('/store/'.length));
      const file = await fileInStore(storeRoot, path);
      if (file) {
        await mkdir(dirname(join(out, 'store', path)), { recursive: true });
        await copyFile(file, join(out, 'store', path));
        detail.report = detail.report.slice(1);
        reports++;
      } else {
        delete detail.report;
      }
    }
    await data(`/api/runs/${run.id}`, detail);
    await data(`/api/compared/${run.id}`, await comparedRunOf(storeRoot, run.id));
    if (!detail.mistakes) continue;
    const mistakes = await mistakesDetail(storeRoot, run.id, imageBase);
    for (const split of mistakes.splits) {
      if (split.images) for (const row of split.rows) images.get(split.images.split('/')[1])!.rows.add(row);
    }
    await data(`/api/runs/${run.id}/mistakes`, mistakes);
  }
  const sweeps = [...new Set(list.runs.flatMap((r) => (r.sweep && isRunId(r.sweep) ? [r.sweep] : [])))];
  for (const id of sweeps) await data(`/api/sweeps/${id}`, await sweepDetail(storeRoot, id));

  let drawn = 0;
  for (const [key, { dataset, rows }] of images) {
    const file = await fileInStore(storeRoot, dataset);
    if (!file) continue;
    await mkdir(join(out, 'images', key), { recursive: true });
    for (const row of rows) {
      const png = await rowPng(file, row);
      if (!png) continue;
      await writeFile(join(out, 'images', key, `${row}.png`), png);
      drawn++;
    }
  }
  return { runs: list.runs.length, sweeps: sweeps.length, images: drawn, reports };
}
