// Makes `npx pipe` run this checkout's CLI at once. npm's npx runs node_modules/.bin/<name> when it exists and
// the project's own package.json declares no bin of that name; with a `bin` entry it would first install the
// project into its npx cache, building it again (15-30 s on the first call). So the package declares no bin
// and `npm ci` (the prepare script) links node_modules/.bin/pipe to bin/pipe.js here instead.
import { chmodSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const binDir = join(root, 'node_modules', '.bin');
mkdirSync(binDir, { recursive: true });
chmodSync(join(root, 'bin', 'pipe.js'), 0o755);
if (process.platform === 'win32') {
  writeFileSync(join(binDir, 'pipe.cmd'), '@node "%~dp0\\..\\..\\bin\\pipe.js" %*\r\n');
} else {
  const link = join(binDir, 'pipe');
  rmSync(link, { force: true });
  symlinkSync('../../bin/pipe.js', link);
}
