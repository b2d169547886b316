// Training checkpoints in the stage's scratch directory, so a killed or interrupted run resumes where it stopped.
//
// Layout: <scratch>/checkpoint-<epoch>/{state.json, <bundle>.bin …} and <scratch>/checkpoint.json, which names
// the latest complete one. A checkpoint is written into a temporary folder, renamed into place, and only then
// does checkpoint.json (itself written to a temporary file and renamed) point at it: a kill at any moment leaves
// either the previous checkpoint or the new one, never a half-written one.
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface NamedArray {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  data: Float32Array | Int32Array;
}

interface BundleEntry {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  offset: number;
  length: number;
}

const POINTER = 'checkpoint.json';

export interface Checkpoint<S> {
  /** JSON-able state (epoch, history, schedule …). */
  state: S;
  /** Named lists of arrays (model weights, optimizer slots, best weights …). */
  bundles: Record<string, NamedArray[]>;
}

function encodeBundle(arrays: NamedArray[]): { bytes: Uint8Array; entries: BundleEntry[] } {
  const entries: BundleEntry[] = [];
  let offset = 0;
  for (const a of arrays) {
    entries.push({ name: a.name, shape: a.shape, dtype: a.dtype, offset, length: a.data.length });
    offset += a.data.byteLength;
  }
  const bytes = new Uint8Array(offset);
  for (let i = 0; i < arrays.length; i++) {
    const d = arrays[i].data;
    bytes.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), entries[i].offset);
  }
  return { bytes, entries };
}

function decodeBundle(bytes: Uint8Array, entries: BundleEntry[]): NamedArray[] {
  return entries.map((e) => {
    // Copy into an aligned buffer: a Node Buffer's offset need not be a multiple of 4.
    const slice = bytes.slice(e.offset, e.offset + e.length * 4);
    const data = e.dtype === 'int32' ? new Int32Array(slice.buffer) : new Float32Array(slice.buffer);
    return { name: e.name, shape: e.shape, dtype: e.dtype, data };
  });
}

/** Write checkpoint number `epoch` and make it the latest; older ones are removed after. */
export async function saveCheckpoint<S>(scratchDir: string, epoch: number, checkpoint: Checkpoint<S>): Promise<void> {
  await mkdir(scratchDir, { recursive: true });
  const name = `checkpoint-${epoch}`;
  const tmp = join(scratchDir, `${name}.tmp-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp);
  const manifest: Record<string, BundleEntry[]> = {};
  for (const [bundle, arrays] of Object.entries(checkpoint.bundles)) {
    const { bytes, entries } = encodeBundle(arrays);
    manifest[bundle] = entries;
    await writeFile(join(tmp, `${bundle}.bin`), bytes);
  }
  await writeFile(join(tmp, 'state.json'), JSON.stringify({ state: checkpoint.state, bundles: manifest }));
  await rm(join(scratchDir, name), { recursive: true, force: true });
  await rename(tmp, join(scratchDir, name));
  const pointerTmp = join(scratchDir, `${POINTER}.tmp-${process.pid}`);
  await writeFile(pointerTmp, JSON.stringify({ latest: name, epoch }));
  await rename(pointerTmp, join(scratchDir, POINTER));
  for (const entry of await readdir(scratchDir)) {
    if (entry.startsWith('checkpoint-') && entry !== name) await rm(join(scratchDir, entry), { recursive: true, force: true });
  }
}

/** The latest complete checkpoint, or null when there is none. */
export async function loadCheckpoint<S>(scratchDir: string): Promise<(Checkpoint<S> & { epoch: number }) | null> {
  let pointer: { latest: string; epoch: number };
  try {
    pointer = JSON.parse(await readFile(join(scratchDir, POINTER), 'utf8'));
  } catch {
    return null;
  }
  const dir = join(scratchDir, pointer.latest);
  const { state, bundles: manifest } = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as {
    state: S;
    bundles: Record<string, BundleEntry[]>;
  };
  const bundles: Record<string, NamedArray[]> = {};
  for (const [bundle, entries] of Object.entries(manifest)) {
    bundles[bundle] = decodeBundle(new Uint8Array(await readFile(join(dir, `${bundle}.bin`))), entries);
  }
  return { state, bundles, epoch: pointer.epoch };
}
