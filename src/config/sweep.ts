// Sweeps: a pipeline's `sweep:` block and `--sweep path=[a,b]` flags name value lists; their cross product is a
// list of named variants, each one a list of `--set` texts applied on top of the pipeline (so a variant is
// checked exactly like the file and an override). Pure: loading and planning each variant is the caller's.
import { parse } from 'yaml';
import { PipeError } from '../errors.js';

export interface SweepAxis {
  /** A value path as `--set` takes it: train.optimizer.learningRate, build.layers[0].conv2d.filters, seed. */
  path: string;
  values: unknown[];
  /** Where the axis came from, for messages: "sweep:" or "--sweep <text>". */
  origin: string;
}

export interface Variant {
  /** e.g. "learningRate=0.001,epochs=2": unique within the sweep, safe in a file name and a shell word. */
  name: string;
  /** `--set` texts that make this variant out of the pipeline. */
  sets: string[];
  /** path -> value of each axis, for tables. */
  values: Record<string, unknown>;
}

const PATH = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+|\[\d+\])*$/;

function checkPath(path: string, origin: string): void {
  if (!PATH.test(path)) {
    throw new PipeError(`${origin}: '${path}' is not a value path`, { hint: "write it as --set takes it: stage.param, stage.list[0].sub or seed" });
  }
}

/** `train.optimizer.learningRate=[0.001,0.0003]` (the list is YAML) -> an axis. */
export function parseSweepFlag(text: string): SweepAxis {
  const origin = `--sweep ${text}`;
  const eq = text.indexOf('=');
  if (eq <= 0) throw new PipeError(`${origin}: expected path=[value, ...]`, { hint: "e.g. --sweep 'train.optimizer.learningRate=[0.001,0.0003]'" });
  const path = text.slice(0, eq).trim();
  checkPath(path, origin);
  let values: unknown;
  try {
    values = parse(text.slice(eq + 1), { prettyErrors: false });
  } catch (err) {
    throw new PipeError(`${origin}: the values are not valid YAML: ${(err as Error).message.split('\n')[0]}`, { hint: 'write a list: [1, 2, 3]' });
  }
  if (!Array.isArray(values) || values.length === 0) {
    throw new PipeError(`${origin}: expected a non-empty list of values`, { hint: `e.g. --sweep '${path}=[1, 2]'` });
  }
  return { path, values, origin };
}

/** The axes of a pipeline's `sweep:` block (already checked against the core schema). */
export function axesOfBlock(block: Record<string, unknown[]> | undefined): SweepAxis[] {
  return Object.entries(block ?? {}).map(([path, values]) => {
    checkPath(path, 'sweep:');
    return { path, values, origin: 'sweep:' };
  });
}

function valueText(value: unknown): string {
  return value !== null && typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** A label for a value that is safe in names: scalars as written, lists and mappings by position. */
function valueLabel(value: unknown, index: number): string {
  const text = valueText(value);
  return value !== null && typeof value === 'object' ? `#${index + 1}` : text.replace(/[^A-Za-z0-9._+-]/g, '_');
}

/** Short names for the axes: the last path segment, or the whole path where two axes would share one. */
function axisLabels(axes: SweepAxis[]): string[] {
  const last = axes.map((a) => a.path.replace(/\[(\d+)\]/g, '.$1').split('.').pop()!);
  return axes.map((a, i) => (last.filter((l) => l === last[i]).length > 1 ? a.path : last[i]));
}

/**
 * The cross product of the axes, first axis slowest. An axis named twice (in the block and by a flag) is taken
 * from the later one, so `--sweep` replaces the file's list for that path. No axes: no variants.
 */
export function expandSweep(axes: SweepAxis[]): Variant[] {
  const byPath = new Map<string, SweepAxis>();
  for (const axis of axes) {
    byPath.delete(axis.path);
    byPath.set(axis.path, axis);
  }
  const unique = [...byPath.values()];
  if (unique.length === 0) return [];
  const labels = axisLabels(unique);
  let variants: Variant[] = [{ name: '', sets: [], values: {} }];
  unique.forEach((axis, a) => {
    const texts = axis.values.map(valueText);
    const duplicate = texts.find((t, i) => texts.indexOf(t) !== i);
    if (duplicate !== undefined) throw new PipeError(`${axis.origin}: ${axis.path} lists ${duplicate} twice`, { hint: 'list each value once' });
    variants = variants.flatMap((v) =>
      axis.values.map((value, i) => ({
        name: `${v.name}${v.name ? ',' : ''}${labels[a]}=${valueLabel(value, i)}`,
        sets: [...v.sets, `${axis.path}=${JSON.stringify(value)}`],
        values: { ...v.values, [axis.path]: value },
      })),
    );
  });
  return variants;
}
