// The files the dashboard page is made of: its compiled scripts (web/) and vega from the installed packages (so
// it works offline). The server serves them; an export copies them.
import { createRequire } from 'node:module';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const WEB_DIR = fileURLToPath(new URL('./web/', import.meta.url));
const require = createRequire(import.meta.url);

/** A file of an installed package, found from its entry point (the packages do not export their builds). */
function packageFile(name: string, file: string): string {
  const entry = require.resolve(name);
  const marker = `${sep}node_modules${sep}${name}${sep}`;
  return join(entry.slice(0, entry.lastIndexOf(marker) + marker.length), file);
}

/** The vendored scripts by the name the page loads them under. */
export const VENDOR: Record<string, () => string> = {
  'vega.min.js': () => packageFile('vega', 'build/vega.min.js'),
  'vega-lite.min.js': () => packageFile('vega-lite', 'build/vega-lite.min.js'),
  'vega-embed.min.js': () => packageFile('vega-embed', 'build/vega-embed.min.js'),
};
