// Where an exported site (pipe ui --export) keeps the answer to each API request the pages make (and, as
// /api/compared/<id>, what a comparison needs of each run): a script next
// to index.html that hands the JSON to the page (file:// pages may load scripts, not fetch files). Pure, so the
// exporter (src/dashboard/export.ts) and the page agree on the names.

/** The data file of an API path, relative to index.html; undefined for requests an export cannot answer. */
export function staticDataFile(api: string): string | undefined {
  if (api === '/api/runs') return 'data/runs.js';
  const m = /^\/api\/(runs|sweeps|compared)\/([A-Za-z0-9._-]+)(\/mistakes)?$/.exec(api);
  if (!m || m[2].includes('..')) return undefined;
  if (m[1] === 'sweeps') return m[3] ? undefined : `data/sweep/${m[2]}.js`;
  if (m[1] === 'compared') return m[3] ? undefined : `data/compared/${m[2]}.js`;
  return `data/${m[3] ? 'mistakes' : 'run'}/${m[2]}.js`;
}

/** The text of a data file: a call that hands the page `value` as the answer to `api`. */
export function staticDataScript(api: string, value: unknown): string {
  return `pipeData(${JSON.stringify(api)}, ${JSON.stringify(value)});\n`;
}
