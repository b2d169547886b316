// The trained model a run produced, with what is needed to use it (`pipe export`, `pipe predict`): the model
// folder is the last stage output named `model/` in pipeline order, and the dataset it was trained on is that
// stage's `.arrow` input, whose metadata holds the class names, image shape, preparation and normalisation.
import { stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { IMAGE_PREPARATION_KEY, type ImageFit } from '../data/decode-image.js';
import { readDataset } from '../data/image-dataset.js';
import { transformOf } from '../data/normalisation.js';
import { PipeError } from '../errors.js';
import { EXPORT_FORMAT, readExportedModelInfo, type ExportedModelInfo } from '../model/exported-model.js';
import type { RunRecord } from '../runs/record.js';
import { findRun } from '../run/run-target.js';

export interface ModelSource {
  /** Folder holding model.json and its weights. */
  modelDir: string;
  info: ExportedModelInfo;
}

const isModelOutput = (path: string) => basename(path.replace(/\/+$/, '')) === 'model';

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** The model of a run in `storeRoot`, described for use outside `pipe`. */
export async function modelOfRun(storeRoot: string, record: RunRecord): Promise<ModelSource> {
  const ids = Object.keys(record.stages).filter((id) => {
    const s = record.stages[id];
    return (s.status === 'ran' || s.status === 'cached') && Object.values(s.outputs).some(isModelOutput);
  });
  const stageId = ids[ids.length - 1];
  if (!stageId) {
    throw new PipeError(`run ${record.id} of '${record.pipeline.name}' produced no model (no stage output named model/)`, {
      hint: 'export or predict with a run that trained a model (see `pipe runs`)',
    });
  }
  const stage = record.stages[stageId];
  const modelDir = join(storeRoot, Object.values(stage.outputs).find(isModelOutput)!);
  const upstream = Object.entries(stage.inputs).flatMap(([input, id]) =>
    Object.values(record.stages[id]?.outputs ?? {})
      .filter((p) => p.endsWith('.arrow'))
      .map((path) => ({ input, path: join(storeRoot, path) })),
  );
  const data = upstream.find((u) => u.input === 'data') ?? upstream[0];
  for (const path of [join(modelDir, 'model.json'), data?.path].filter((p): p is string => !!p)) {
    if (!(await exists(path))) {
      throw new PipeError(`the outputs of run ${record.id} are no longer in the cache (${basename(path)} is missing; removed by 'pipe cache gc'?)`, {
        hint: `run the pipeline again: pipe run ${record.pipeline.file}`,
      });
    }
  }
  if (!data) {
    throw new PipeError(`stage '${stageId}' of run ${record.id} read no image dataset, so its classes and normalisation are unknown`, {
      hint: 'the model must come from a stage with a dataset input (like train)',
    });
  }
  const ds = await readDataset(data.path);
  const t = transformOf(ds.metadata);
  const prep = ds.metadata[IMAGE_PREPARATION_KEY] ? (JSON.parse(ds.metadata[IMAGE_PREPARATION_KEY]) as { fit?: ImageFit }) : {};
  return {
    modelDir,
    info: {
      format: EXPORT_FORMAT,
      classes: ds.classes,
      inputShape: ds.shape,
      preprocessing: { colour: ds.shape[2] === 1 ? 'grey' : 'rgb', fit: prep.fit ?? 'cover' },
      normalisation: {
        mode: t.mode,
        scale: t.scale,
        mean: t.mean,
        std: t.std,
        ...(t.fitSplit === undefined ? {} : { fitSplit: t.fitSplit }),
        ...(t.fitRows === undefined ? {} : { fitRows: t.fitRows }),
      },
      source: { pipeline: record.pipeline.name, stage: stageId, key: stage.key, run: record.id },
    },
  };
}

/** A model named the way `pipe predict` and `pipe export` accept: an export folder, a run id or a pipeline file. */
export async function findModel(target: string, cache?: string): Promise<ModelSource> {
  const info = await readExportedModelInfo(target);
  if (info) return { modelDir: target, info };
  if ((await stat(target).catch(() => undefined))?.isDirectory()) {
    throw new PipeError(`${target} is not a model exported by 'pipe export' (no model.json with userDefinedMetadata.pipe)`, {
      hint: 'give an export folder, a pipeline file (its latest run) or a run id from `pipe runs`',
    });
  }
  const { record, storeRoot } = await findRun(target, cache);
  return modelOfRun(storeRoot, record);
}
