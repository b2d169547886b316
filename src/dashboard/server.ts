// The dashboard's HTTP server (node:http): the page and its scripts, vega from the installed packages (it works
// offline), a JSON API over the runs of one store, live epochs as Server-Sent Events, and the store's files
// (reports). It only reads the store. Bound to a loopback address it answers only requests addressed to one
// (a page elsewhere cannot rebind a name to it); on any other address every request needs the token.
import { createReadStream } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { timingSafeEqual } from 'node:crypto';
import { PipeError } from '../errors.js';
import { readRun } from '../runs/read.js';
import type { LiveEvent, RunsList } from './api.js';
import { VENDOR, WEB_DIR } from './assets.js';
import { PAGE_HTML, PAGE_CSS } from './page.js';
import { parseRow, rowPng } from './images.js';
import { compareDetail, evaluatedDataset, EpochLog, isRunId, logFileOf, mistakesDetail, runDetail, runsList, sweepDetail, type ListCache } from './run-data.js';
import { contentTypeOf, fileInStore } from './store-files.js';

export interface DashboardOptions {
  storeRoot: string;
  host: string;
  port: number;
  /** Required on every request (as ?token= once, then a cookie) when set. */
  token?: string;
  /** How often a live run's log and record are looked at (ms). */
  pollMs?: number;
}

export interface Dashboard {
  server: Server;
  /** The address to open, with the token when there is one. */
  url: string;
  close(): Promise<void>;
}

const COOKIE = 'pipe_ui_token';
const MAX_COMPARED = 20;

/** Loopback names and addresses: no other machine can reach a server bound to one. */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  return bare === 'localhost' || bare === '::1' || (isIP(bare) === 4 && bare.startsWith('127.'));
}

// Vega evaluates its expressions with its interpreter (vega-embed's `ast` option), so no script is ever made
// from a string: no 'unsafe-eval'.
export const APP_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
// A store file may come from another machine's cache: it opens as an inert document of no origin of ours.
const STORE_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:";


function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8', headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...headers });
  res.end(body);
}

function sendJson(res: ServerResponse, value: unknown): void {
  send(res, 200, JSON.stringify(value), 'application/json; charset=utf-8');
}

async function sendFile(res: ServerResponse, path: string, type: string, headers: Record<string, string> = {}): Promise<void> {
  const size = (await stat(path)).size;
  res.writeHead(200, { 'content-type': type, 'content-length': String(size), 'cache-control': 'no-cache', ...headers });
  await new Promise<void>((resolve, reject) => createReadStream(path).on('error', reject).on('end', resolve).pipe(res));
}

function sameToken(given: string | undefined, token: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

function cookieValue(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

/** A URL path segment decoded, or undefined when its escapes are malformed. */
function decoded(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const { storeRoot, token } = options;
  const pollMs = options.pollMs ?? 500;
  const live = new Set<() => void>();
  // The runs page asks for the list every few seconds: records whose file did not change are not parsed again.
  const lists: ListCache = { records: new Map() };
  const bodies = new WeakMap<RunsList, string>();

  /** Whether the request may be answered; sets the token cookie when the token came in the URL. */
  const admitted = (req: IncomingMessage, url: URL, res: ServerResponse): boolean => {
    if (token === undefined) {
      const host = (req.headers.host ?? '').replace(/:\d+$/, '');
      return isLoopback(host);
    }
    if (sameToken(cookieValue(req, COOKIE) ?? undefined, token)) return true;
    if (!sameToken(url.searchParams.get('token') ?? undefined, token)) return false;
    res.setHeader('set-cookie', `${COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`);
    return true;
  };

  const events = (req: IncomingMessage, res: ServerResponse, id: string): void => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    const emit = (event: LiveEvent) => res.write(`data: ${JSON.stringify(event)}\n\n`);
    const epochs = new EpochLog();
    let offset = 0;
    let status: string | undefined;
    let busy = false;
    const look = async () => {
      if (busy) return;
      busy = true;
      try {
        const file = await open(logFileOf(storeRoot, id), 'r').catch(() => undefined);
        if (file) {
          try {
            const { size } = await file.stat();
            if (size > offset) {
              const buffer = Buffer.alloc(size - offset);
              const { bytesRead } = await file.read(buffer, 0, buffer.length, offset);
              offset += bytesRead;
              for (const point of epochs.feed(buffer.subarray(0, bytesRead).toString('utf8'))) emit({ type: 'epoch', point });
            }
          } finally {
            await file.close();
          }
        }
        const now = await readRun(storeRoot, id).then((r) => r.status, () => 'damaged');
        if (now !== status) {
          status = now;
          emit({ type: 'status', status });
        }
        if (status !== 'running') stop();
      } finally {
        busy = false;
      }
    };
    const timer = setInterval(() => void look().catch(() => undefined), pollMs);
    const stop = () => {
      clearInterval(timer);
      live.delete(stop);
      res.end();
    };
    live.add(stop);
    req.on('close', stop);
    void look().catch(() => undefined);
  };

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://dashboard');
    res.setHeader('x-content-type-options', 'nosniff');
    res.setHeader('referrer-policy', 'no-referrer');
    if (!admitted(req, url, res)) return send(res, 403, 'forbidden: open the URL that `pipe ui` printed (with its token)\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'the dashboard only reads\n', undefined, { allow: 'GET, HEAD' });
    const path = url.pathname;
    const app = { 'content-security-policy': APP_CSP, 'x-frame-options': 'DENY' };
    if (path === '/') return send(res, 200, PAGE_HTML, 'text/html; charset=utf-8', app);
    if (path === '/favicon.ico') return send(res, 204, '');
    if (path === '/assets/style.css') return send(res, 200, PAGE_CSS, 'text/css; charset=utf-8');
    const asset = /^\/assets\/([a-z][a-z0-9-]*\.js)$/.exec(path);
    if (asset) {
      const file = join(WEB_DIR, asset[1]);
      if (!(await stat(file).then((s) => s.isFile(), () => false))) return send(res, 404, 'no such asset\n');
      return sendFile(res, file, 'text/javascript; charset=utf-8');
    }
    const vendor = /^\/vendor\/([a-z.-]+)$/.exec(path);
    if (vendor && Object.hasOwn(VENDOR, vendor[1])) return sendFile(res, VENDOR[vendor[1]](), 'text/javascript; charset=utf-8');
    if (path === '/api/runs') {
      const list = await runsList(storeRoot, lists);
      let body = bodies.get(list);
      if (body === undefined) bodies.set(list, (body = JSON.stringify(list)));
      return send(res, 200, body, 'application/json; charset=utf-8');
    }
    if (path === '/api/compare') {
      const ids = (url.searchParams.get('runs') ?? '').split(',').filter(Boolean);
      if (ids.length < 1 || ids.length > MAX_COMPARED || !ids.every(isRunId)) {
        return send(res, 400, `compare takes 1 to ${MAX_COMPARED} run ids: /api/compare?runs=<id>,<id>\n`);
      }
      return sendJson(res, await compareDetail(storeRoot, ids));
    }
    const run = /^\/api\/runs\/([^/]+)(?:\/(events|mistakes))?$/.exec(path);
    if (run) {
      const id = decoded(run[1]);
      if (id === undefined || !isRunId(id)) return send(res, 404, 'no such run\n');
      if (run[2] === 'events') return events(req, res, id);
      if (run[2] === 'mistakes') return sendJson(res, await mistakesDetail(storeRoot, id));
      return sendJson(res, await runDetail(storeRoot, id));
    }
    const image = /^\/api\/runs\/([^/]+)\/images\/([^/]+)\/([^/]+)\.png$/.exec(path);
    if (image) {
      const [id, stage, rowText] = image.slice(1).map(decoded);
      const row = rowText === undefined ? undefined : parseRow(rowText);
      if (id === undefined || !isRunId(id) || stage === undefined || row === undefined) return send(res, 404, 'no such image\n');
      const record = await readRun(storeRoot, id);
      const dataset = await evaluatedDataset(storeRoot, record, stage);
      const file = dataset && (await fileInStore(storeRoot, dataset));
      const png = file && (await rowPng(file, row));
      if (!png) return send(res, 404, 'no such image\n');
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(png.length), 'cache-control': 'no-cache' });
      return void res.end(png);
    }
    const sweep = /^\/api\/sweeps\/([^/]+)$/.exec(path);
    if (sweep) {
      const id = decoded(sweep[1]);
      if (id === undefined || !isRunId(id)) return send(res, 404, 'no such sweep\n');
      return sendJson(res, await sweepDetail(storeRoot, id));
    }
    if (path.startsWith('/store/')) {
      const relative = decoded(path.slice('/store/'.length));
      if (relative === undefined) return send(res, 400, 'malformed path\n');
      const file = await fileInStore(storeRoot, relative);
      if (!file) return send(res, 404, 'no such file in the store\n');
      return sendFile(res, file, contentTypeOf(file), { 'content-security-policy': STORE_CSP });
    }
    send(res, 404, 'not found\n');
  };

  const server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      const known = err instanceof PipeError;
      if (res.headersSent) return res.destroy();
      send(res, known ? 404 : 500, `${known ? err.message : 'the dashboard could not read this'}\n`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new PipeError(`port ${options.port} on ${options.host} is in use`, { hint: 'give another with --port, or --port 0 for any free one' })
          : err,
      ),
    );
    server.listen(options.port, options.host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  const shown = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    server,
    url: `http://${shown}:${port}/${token ? `?token=${token}` : ''}`,
    close: async () => {
      for (const stop of [...live]) stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
