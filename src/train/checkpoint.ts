// Training checkpoints in the stage's scratch directory, so a killed or interrupted run resumes where it stopped.
//
// Layout: <scratch>/checkpoint-<epoch>/{state.json, <bundle>.bin …, manifest.json} and <scratch>/checkpoint.json,
// which names the latest complete one. A checkpoint is written into a temporary folder, renamed into place, and
// only then does checkpoint.json (itself written to a temporary file and renamed) point at it: a kill at any
// moment leaves either the previous checkpoint or the new one, never a half-written one.
//
// A disk can still damage a finished checkpoint (a full disk, a copied scratch folder, a truncated file), so each
// one carries a manifest of its files' sizes and SHA-256 hashes, like a store entry, and the previous checkpoint
// is kept beside the latest. Loading verifies the manifest; a damaged checkpoint is reported, removed, and the
// previous one tried, so damage costs at most the epochs since the last good one and never blocks training.
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathInside } from '../plain-path.js';

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
const MANIFEST = 'manifest.json';
/** Checkpoints kept: the latest and the one before it, to fall back on if the latest is damaged. */
const KEEP = 2;

interface CheckpointManifest {
  epoch: number;
  files: Record<string, { size: number; sha256: string }>;
}

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

/** Write checkpoint number `epoch` and make it the latest; all but the previous one are removed after. */
export async function saveCheckpoint<S>(scratchDir: string, epoch: number, checkpoint: Checkpoint<S>): Promise<void> {
  await mkdir(scratchDir, { recursive: true });
  const name = `checkpoint-${epoch}`;
  const tmp = join(scratchDir, `${name}.tmp-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp);
  const layout: Record<string, BundleEntry[]> = {};
  const files: CheckpointManifest['files'] = {};
  const put = async (file: string, bytes: Uint8Array | string) => {
    await writeFile(join(tmp, file), bytes);
    files[file] = { size: Buffer.byteLength(bytes), sha256: sha256(bytes) };
  };
  for (const [bundle, arrays] of Object.entries(checkpoint.bundles)) {
    const { bytes, entries } = encodeBundle(arrays);
    layout[bundle] = entries;
    await put(`${bundle}.bin`, bytes);
  }
  await put('state.json', JSON.stringify({ state: checkpoint.state, bundles: layout }));
  await writeFile(join(tmp, MANIFEST), JSON.stringify({ epoch, files } satisfies CheckpointManifest));
  await rm(join(scratchDir, name), { recursive: true, force: true });
  await rename(tmp, join(scratchDir, name));
  const pointerTmp = join(scratchDir, `${POINTER}.tmp-${process.pid}`);
  await writeFile(pointerTmp, JSON.stringify({ latest: name, epoch }));
  await rename(pointerTmp, join(scratchDir, POINTER));
  const older = (await checkpointEpochs(scratchDir)).filter((e) => e !== epoch).slice(KEEP - 1);
  for (const e of older) await rm(join(scratchDir, `checkpoint-${e}`), { recursive: true, force: true });
}

function sha256(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Epochs of the checkpoint folders present, newest first (temporary folders excluded). */
async function checkpointEpochs(scratchDir: string): Promise<number[]> {
  let names: string[];
  try {
    names = await readdir(scratchDir);
  } catch {
    return [];
  }
  return names
    .map((n) => /^checkpoint-(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => b - a);
}

/** A checkpoint found damaged and removed. */
export interface DamagedCheckpoint {
  epoch: number;
  reason: string;
}

/**
 * The latest sound checkpoint, or null when there is none. Damaged ones (a file missing, cut short or changed;
 * no manifest) are removed and passed to `onDamaged`, newest first, before the next older one is tried.
 */
export async function loadCheckpoint<S>(
  scratchDir: string,
  onDamaged: (damaged: DamagedCheckpoint) => void = () => undefined,
): Promise<(Checkpoint<S> & { epoch: number }) | null> {
  for (const epoch of await checkpointEpochs(scratchDir)) {
    const dir = join(scratchDir, `checkpoint-${epoch}`);
    const loaded = await readCheckpoint<S>(dir);
    if (typeof loaded !== 'string') return { ...loaded, epoch };
    onDamaged({ epoch, reason: loaded });
    await rm(dir, { recursive: true, force: true });
  }
  return null;
}

/** The checkpoint in `dir`, or what is wrong with it. */
async function readCheckpoint<S>(dir: string): Promise<Checkpoint<S> | string> {
  let manifest: CheckpointManifest;
  try {
    manifest = JSON.parse(await readFile(join(dir, MANIFEST), 'utf8')) as CheckpointManifest;
    if (typeof manifest?.files !== 'object' || manifest.files === null) return `${MANIFEST}: no files list`;
  } catch (err) {
    return `${MANIFEST}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : (err as Error).message}`;
  }
  const contents = new Map<string, Buffer>();
  for (const [file, expected] of Object.entries(manifest.files)) {
    // A scratch folder can be copied in from elsewhere: the manifest names files of this checkpoint only.
    const inside = await pathInside(dir, file);
    if ('problem' in inside) return `${JSON.stringify(file)}: not a file of the checkpoint (${inside.problem})`;
    let bytes: Buffer;
    try {
      bytes = await readFile(inside.path);
    } catch {
      return `${file}: missing`;
    }
    if (bytes.length !== expected.size) return `${file}: ${bytes.length} bytes, ${expected.size} expected`;
    if (sha256(bytes) !== expected.sha256) return `${file}: content differs from its hash in ${MANIFEST}`;
    contents.set(file, bytes);
  }
  const stateBytes = contents.get('state.json');
  if (!stateBytes) return `state.json: not in ${MANIFEST}`;
  const { state, bundles: layout } = JSON.parse(stateBytes.toString('utf8')) as { state: S; bundles: Record<string, BundleEntry[]> };
  const bundles: Record<string, NamedArray[]> = {};
  for (const [bundle, entries] of Object.entries(layout)) {
    const bytes = contents.get(`${bundle}.bin`);
    if (!bytes) return `${bundle}.bin: not in ${MANIFEST}`;
    bundles[bundle] = decodeBundle(new Uint8Array(bytes), entries);
  }
  return { state, bundles };
}
