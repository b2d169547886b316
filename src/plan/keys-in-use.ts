// The cache keys a pipeline uses now: what `pipe cache gc` must keep.
import { openPipeline } from '../cli/open-pipeline.js';

export async function planKeys(pipelineFile: string): Promise<Set<string>> {
  const { plan } = await openPipeline(pipelineFile);
  return new Set(plan.order.map((id) => plan.stages[id].key));
}
