// The FER2013 paper's CNN (48x48x1 input, 7 classes), the reference workload of the training benchmarks and of
// tests. Its one copy is the layer list of the shipped pipelines/fer2013-baseline.yaml; this reads it and builds it
// as build-model does. Shapes after each block: 46,46,23,21,21,10,8,4 → 2048 → 200 → 7.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { Tf } from '../tf/types.js';
import { specToTopology, type LayerSpecItem } from './layers/spec.js';
import { modelFromTopology } from './model-io.js';

export const PAPER_INPUT_SHAPE = [48, 48, 1];

/** pipelines/fer2013-baseline.yaml, found above this module (it runs from sources or from dist/). */
export function paperPipelinePath(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const path = join(dir, 'pipelines', 'fer2013-baseline.yaml');
    if (existsSync(path)) return path;
    if (dirname(dir) === dir) throw new Error('pipelines/fer2013-baseline.yaml not found above ' + fileURLToPath(import.meta.url));
  }
}

/** The paper CNN's layer list, as the baseline pipeline's build stage gives it. */
export function paperLayers(): LayerSpecItem[] {
  const pipeline = parse(readFileSync(paperPipelinePath(), 'utf8')) as { stages: Record<string, { uses: string; with?: { layers?: LayerSpecItem[] } }> };
  const build = Object.values(pipeline.stages).find((s) => s.uses === 'build-model');
  if (!build?.with?.layers) throw new Error(`${paperPipelinePath()} has no build-model stage with layers`);
  return build.with.layers;
}

/** The paper CNN, untrained, with build-model's seeded initial weights. */
export async function buildPaperCnn(tf: Tf, seed = 1) {
  return modelFromTopology(tf, specToTopology(paperLayers(), PAPER_INPUT_SHAPE, seed));
}
