// Assembles the WebAssembly text modules under src/ into dist/ (npm run build runs this before tsc).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import wabtInit from 'wabt';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const sources = ['src/tf/wasm/simd-kernels.wat'];
const wabt = await wabtInit();
for (const source of sources) {
  const path = join(root, source);
  const module = wabt.parseWat(path, readFileSync(path, 'utf8'), { simd: true });
  module.validate();
  const { buffer } = module.toBinary({});
  module.destroy();
  const target = join(root, 'dist', source.replace(/\.wat$/, '.wasm'));
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, buffer);
  console.log(`${source} → ${relative(root, target)} (${buffer.length} bytes)`);
}
