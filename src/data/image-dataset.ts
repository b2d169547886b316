// An image classification dataset held as flat typed arrays, stored as one Apache Arrow IPC file.
//
// Arrow schema (see docs/data-format.md):
//   label  : Uint8                       class index into metadata `pipe.classes`
//   pixels : FixedSizeList<Uint8>[h*w*c] row-major HWC grey/colour values 0..255
//   split  : Dictionary<Int8, Utf8>      e.g. "train" | "validation" | "test" (or a source's own names)
//   source : Uint32                      row number in the original source (CSV line, file index), for provenance
// Schema metadata: `pipe.shape` = JSON [h,w,c], `pipe.classes` = JSON string[], plus stage-specific keys
// (e.g. `pipe.normalise`), all JSON strings.
import { open, type FileHandle } from 'node:fs/promises';
import {
  Data,
  Dictionary,
  Field,
  FixedSizeList,
  Int8,
  makeData,
  RecordBatch,
  RecordBatchFileWriter,
  RecordBatchReader,
  Schema,
  Struct,
  Table,
  Uint32,
  Uint8,
  Utf8,
  tableFromIPC,
  tableToIPC,
  Vector,
  vectorFromArray,
} from 'apache-arrow';

export interface ImageDataset {
  /** [height, width, channels] */
  shape: [number, number, number];
  classes: string[];
  /** One class index per row. */
  labels: Uint8Array;
  /** rows * h * w * c bytes, row-major HWC. */
  pixels: Uint8Array;
  /** Split names; `splitCodes[i]` indexes this array. */
  splitNames: string[];
  splitCodes: Int8Array;
  /** Provenance: the row's number in the original source. */
  source: Uint32Array;
  /** Extra schema metadata (already JSON-encoded strings), carried through stages. */
  metadata: Record<string, string>;
}

export function rowCount(ds: ImageDataset): number {
  return ds.labels.length;
}

export function imageSize(ds: Pick<ImageDataset, 'shape'>): number {
  return ds.shape[0] * ds.shape[1] * ds.shape[2];
}

/** Pixels of row i (a view, not a copy). */
export function imageAt(ds: ImageDataset, i: number): Uint8Array {
  const size = imageSize(ds);
  return ds.pixels.subarray(i * size, (i + 1) * size);
}

/** Index of a split name, or -1. */
export function splitIndex(ds: ImageDataset, name: string): number {
  return ds.splitNames.indexOf(name);
}

/** Row indices that belong to the named split. */
export function rowsOfSplit(ds: ImageDataset, name: string): Uint32Array {
  const code = splitIndex(ds, name);
  const out: number[] = [];
  if (code >= 0) for (let i = 0; i < ds.splitCodes.length; i++) if (ds.splitCodes[i] === code) out.push(i);
  return Uint32Array.from(out);
}

/** Rows per class for each split: { split: number[classes] }. */
export function classCounts(ds: ImageDataset): Record<string, number[]> {
  const counts: Record<string, number[]> = {};
  for (const name of ds.splitNames) counts[name] = new Array(ds.classes.length).fill(0);
  for (let i = 0; i < ds.labels.length; i++) counts[ds.splitNames[ds.splitCodes[i]]][ds.labels[i]]++;
  return counts;
}

/** A new dataset made of the given rows, in that order (rows may repeat: that is how oversampling copies). */
export function selectRows(ds: ImageDataset, rows: ArrayLike<number>): ImageDataset {
  const size = imageSize(ds);
  const n = rows.length;
  const pixels = new Uint8Array(n * size);
  const labels = new Uint8Array(n);
  const splitCodes = new Int8Array(n);
  const source = new Uint32Array(n);
  for (let j = 0; j < n; j++) {
    const i = rows[j];
    pixels.set(ds.pixels.subarray(i * size, (i + 1) * size), j * size);
    labels[j] = ds.labels[i];
    splitCodes[j] = ds.splitCodes[i];
    source[j] = ds.source[i];
  }
  return { ...ds, pixels, labels, splitCodes, source, metadata: { ...ds.metadata } };
}

const SHAPE_KEY = 'pipe.shape';
const CLASSES_KEY = 'pipe.classes';

/**
 * Rows per Arrow record batch: about 64 MiB of pixels. One array of every pixel cannot pass 2^31 - 1 bytes (Arrow's
 * 32-bit lengths), so a dataset of a million 48×48 images must be several batches; and batches are what later
 * readers can take one at a time.
 */
export function rowsPerBatch(shape: readonly number[]): number {
  const size = shape[0] * shape[1] * shape[2];
  return Math.max(1, Math.min(65_536, Math.floor(BATCH_PIXEL_BYTES / Math.max(1, size))));
}

const BATCH_PIXEL_BYTES = 64 * 1024 * 1024;

/** The columns of some rows, as the writer takes them (row-major HWC pixels, one entry per row elsewhere). */
export interface DatasetRows {
  labels: Uint8Array;
  pixels: Uint8Array;
  splitCodes: Int8Array;
  source: Uint32Array;
}

export interface DatasetHeader {
  shape: [number, number, number];
  classes: string[];
  /**
   * The split names, known before the first row: Arrow's IPC file format writes the dictionary with the first
   * batch and cannot replace it.
   */
  splitNames: string[];
  metadata: Record<string, string>;
  /**
   * The names were declared ahead of the data (e.g. every split a CSV may have): readDataset drops the ones no row
   * has, so a dataset holds only the splits it has rows for.
   */
  declaredSplits?: boolean;
}

/** Metadata key set by a writer whose split names were declared ahead of the rows (see DatasetHeader). */
const DECLARED_SPLITS_KEY = 'pipe.declaredSplits';

function datasetSchema(header: DatasetHeader): { schema: Schema; pixelType: FixedSizeList; splitType: Dictionary<Utf8, Int8>; fields: Field[] } {
  const size = imageSize(header);
  const pixelType = new FixedSizeList(size, new Field('byte', new Uint8(), false));
  const splitType = new Dictionary(new Utf8(), new Int8(), 0, false);
  const fields = [
    new Field('label', new Uint8(), false),
    new Field('pixels', pixelType, false),
    new Field('split', splitType, false),
    new Field('source', new Uint32(), false),
  ];
  const metadata = new Map<string, string>(Object.entries(header.metadata));
  metadata.set(SHAPE_KEY, JSON.stringify(header.shape));
  metadata.set(CLASSES_KEY, JSON.stringify(header.classes));
  if (header.declaredSplits) metadata.set(DECLARED_SPLITS_KEY, 'true');
  return { schema: new Schema(fields, metadata), pixelType, splitType, fields };
}

/** Builds record batches of a header's schema from row views (nothing is copied). */
function batchMaker(header: DatasetHeader): (rows: DatasetRows, start: number, end: number) => RecordBatch {
  const size = imageSize(header);
  const { schema, pixelType, splitType, fields } = datasetSchema(header);
  // One dictionary for every batch: the IPC file format allows no replacement dictionaries.
  const splitDictionary = vectorFromArray(header.splitNames, new Utf8());
  return (rows, start, end) => {
    const length = end - start;
    const children: Data[] = [
      makeData({ type: new Uint8(), length, data: rows.labels.subarray(start, end) }),
      makeData({
        type: pixelType,
        length,
        child: makeData({ type: new Uint8(), length: length * size, data: rows.pixels.subarray(start * size, end * size) }),
      }),
      makeData<Dictionary<Utf8, Int8>>({ type: splitType, length, data: rows.splitCodes.subarray(start, end), dictionary: splitDictionary }),
      makeData({ type: new Uint32(), length, data: rows.source.subarray(start, end) }),
    ];
    return new RecordBatch(schema, makeData({ type: new Struct(fields), length, children }));
  };
}

/** Rows in `rows`, after checking that every column has as many. */
function rowsIn(rows: DatasetRows, size: number): number {
  const n = rows.labels.length;
  if (rows.pixels.length !== n * size) throw new Error(`pixels hold ${rows.pixels.length} bytes, expected ${n} rows × ${size}`);
  if (rows.splitCodes.length !== n || rows.source.length !== n) {
    throw new Error(`columns differ in length: ${n} labels, ${rows.splitCodes.length} split codes, ${rows.source.length} sources`);
  }
  return n;
}

/** The dataset as record batches of rowsPerBatch rows, each a view of `ds`'s arrays (nothing is copied). */
function* recordBatches(ds: ImageDataset, step = rowsPerBatch(ds.shape)): Generator<RecordBatch> {
  const n = rowsIn(ds, imageSize(ds));
  const make = batchMaker(ds);
  for (let start = 0; start < n || (n === 0 && start === 0); start += step) {
    yield make(ds, start, Math.min(n, start + step));
    if (n === 0) break;
  }
}

/** Serialise to Arrow IPC file bytes (small datasets and tests; writeDataset streams to a file). */
export function encodeDataset(ds: ImageDataset): Uint8Array {
  return tableToIPC(new Table([...recordBatches(ds)]), 'file');
}

/** Write the Arrow IPC file batch by batch, so no second copy of the pixels is made in memory. */
export async function writeDataset(path: string, ds: ImageDataset, options: { rowsPerBatch?: number } = {}): Promise<void> {
  const writer = await openDatasetWriter(path, ds, options);
  try {
    await writer.append(ds);
  } catch (err) {
    await writer.abort();
    throw err;
  }
  await writer.close();
}

export interface DatasetWriter {
  /**
   * Queues rows for writing, as record batches of at most rowsPerBatch rows (views of the arrays: hand over fresh
   * arrays each time and leave these unchanged). Resolves once the rows appended before these are (about) on disk,
   * so memory holds this call's rows and the ones the caller makes next, not the whole dataset.
   */
  append(rows: DatasetRows): Promise<void>;
  /** Rows appended so far. */
  readonly rows: number;
  /** Rows per split code, then per class: what classCounts would say of the written dataset, by code. */
  readonly counts: number[][];
  /** Writes the footer and closes the file. */
  close(): Promise<void>;
  /** Closes the file without finishing it (after a failure). */
  abort(): Promise<void>;
}

/**
 * Opens `path` for a dataset written as it is made: an ingest appends rows as it reads them, so it never holds the
 * whole dataset. The split names come first (see DatasetHeader). `readDataset` reads the file like any other.
 */
export async function openDatasetWriter(path: string, header: DatasetHeader, options: { rowsPerBatch?: number } = {}): Promise<DatasetWriter> {
  const step = options.rowsPerBatch ?? rowsPerBatch(header.shape);
  const size = imageSize(header);
  const make = batchMaker(header);
  const handle = await open(path, 'w');
  const writer = new RecordBatchFileWriter();
  const counts = header.splitNames.map(() => new Array<number>(header.classes.length).fill(0));
  let rows = 0;
  // Bytes the drain has written, and the column bytes queued so far (messages and padding come on top).
  let written = 0;
  let queued = 0;
  const noop = () => {};
  let wake: () => void = noop;
  let failure: unknown = null;
  const drained = (async () => {
    try {
      for await (const chunk of writer) {
        await handle.write(chunk);
        written += chunk.byteLength;
        wake();
      }
    } catch (err) {
      failure = err;
      wake();
    }
  })();
  const waitFor = async (bytes: number) => {
    while (written < bytes && failure === null) await new Promise<void>((done) => (wake = done));
    wake = noop;
    if (failure !== null) throw failure;
  };
  let closed = false;
  return {
    get rows() {
      return rows;
    },
    counts,
    async append(more) {
      if (closed) throw new Error('dataset writer is closed');
      const n = rowsIn(more, size);
      for (let i = 0; i < n; i++) {
        const code = more.splitCodes[i];
        const label = more.labels[i];
        if (!(code >= 0 && code < counts.length)) throw new Error(`row ${rows + i}: split code ${code} is not one of ${counts.length} split names`);
        if (label >= header.classes.length) throw new Error(`row ${rows + i}: label ${label} is not one of ${header.classes.length} classes`);
        counts[code][label]++;
      }
      // The previous append's rows go to disk before this one's join the queue.
      await waitFor(queued);
      for (let start = 0; start < n; start += step) {
        const end = Math.min(n, start + step);
        writer.write(make(more, start, end));
        queued += (end - start) * (size + 6);
      }
      rows += n;
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        // An empty dataset is still one (empty) batch, which carries the schema and the split names.
        if (rows === 0) writer.write(make({ labels: new Uint8Array(0), pixels: new Uint8Array(0), splitCodes: new Int8Array(0), source: new Uint32Array(0) }, 0, 0));
        writer.finish();
        await drained;
        if (failure !== null) throw failure;
      } finally {
        await handle.close();
      }
    },
    async abort() {
      if (closed) return;
      closed = true;
      writer.abort();
      await drained;
      await handle.close();
    },
  };
}

/** Parse Arrow IPC bytes (file or stream format) written by encodeDataset or another Arrow tool with the same schema. */
export function decodeDataset(bytes: Uint8Array, where = 'dataset'): ImageDataset {
  const table = tableFromIPC(bytes);
  const builder = new DatasetBuilder(table.schema, where, table.numRows);
  for (const batch of table.batches) builder.add(batch);
  return builder.finish();
}

/**
 * Copies record batches, one at a time, into one set of typed arrays: a batch can be dropped once copied, so
 * reading holds the dataset once plus a batch, not twice.
 */
class DatasetBuilder {
  private readonly shape: [number, number, number];
  private readonly classes: string[];
  private readonly size: number;
  private readonly metadata: Record<string, string> = {};
  private readonly declaredSplits: boolean;
  private readonly splitNames: string[] = [];
  private labels: Uint8Array;
  private pixels: Uint8Array;
  private splitCodes: Int8Array;
  private source: Uint32Array;
  private rows = 0;

  /** `capacity`: the rows expected (an upper bound saves growing the arrays). */
  constructor(schema: Schema, private readonly where: string, capacity: number) {
    const meta = schema.metadata;
    const shapeText = meta.get(SHAPE_KEY);
    const classesText = meta.get(CLASSES_KEY);
    if (!shapeText || !classesText) {
      throw new Error(`${where}: not a pipe image dataset (schema metadata lacks ${SHAPE_KEY} or ${CLASSES_KEY})`);
    }
    this.shape = JSON.parse(shapeText) as [number, number, number];
    this.classes = JSON.parse(classesText) as string[];
    this.size = this.shape[0] * this.shape[1] * this.shape[2];
    for (const [k, v] of meta) if (k !== SHAPE_KEY && k !== CLASSES_KEY && k !== DECLARED_SPLITS_KEY) this.metadata[k] = v;
    this.declaredSplits = meta.get(DECLARED_SPLITS_KEY) === 'true';
    for (const name of ['label', 'pixels', 'split', 'source']) {
      if (!schema.fields.some((f) => f.name === name)) throw new Error(`${where}: column "${name}" is missing`);
    }
    this.labels = new Uint8Array(capacity);
    this.pixels = new Uint8Array(capacity * this.size);
    this.splitCodes = new Int8Array(capacity);
    this.source = new Uint32Array(capacity);
  }

  add(batch: RecordBatch): void {
    const n = batch.numRows;
    if (this.rows + n > this.labels.length) this.grow(Math.max(this.rows + n, this.labels.length * 2));
    const at = this.rows;
    copyColumn(batch.getChild('label'), this.labels, at, 1);
    copyColumn(batch.getChild('pixels'), this.pixels, at, this.size);
    copyColumn(batch.getChild('source'), this.source, at, 1);
    // Dictionaries may differ per batch; map every batch's codes onto one list of names.
    let row = at;
    for (const chunk of batch.getChild('split')!.data) {
      const dict = chunk.dictionary;
      const local: number[] = [];
      if (dict) {
        for (let k = 0; k < dict.length; k++) {
          const name = String(dict.get(k));
          let code = this.splitNames.indexOf(name);
          if (code < 0) code = this.splitNames.push(name) - 1;
          local.push(code);
        }
      }
      const codes = chunk.values as ArrayLike<number>;
      for (let k = 0; k < chunk.length; k++) this.splitCodes[row++] = local[codes[chunk.offset + k]];
    }
    this.rows += n;
  }

  finish(): ImageDataset {
    const n = this.rows;
    const fit = <T extends Uint8Array | Int8Array | Uint32Array>(a: T, per: number) => (a.length === n * per ? a : (a.subarray(0, n * per) as T));
    const splitCodes = fit(this.splitCodes, 1);
    if (this.declaredSplits) dropUnusedSplits(this.splitNames, splitCodes);
    return {
      shape: this.shape,
      classes: this.classes,
      labels: fit(this.labels, 1),
      pixels: fit(this.pixels, this.size),
      splitNames: this.splitNames,
      splitCodes,
      source: fit(this.source, 1),
      metadata: this.metadata,
    };
  }

  private grow(rows: number): void {
    const more = <T extends Uint8Array | Int8Array | Uint32Array>(old: T, fresh: T) => {
      fresh.set(old.subarray(0, this.rows * (fresh.length / rows)));
      return fresh;
    };
    this.labels = more(this.labels, new Uint8Array(rows));
    this.pixels = more(this.pixels, new Uint8Array(rows * this.size));
    this.splitCodes = more(this.splitCodes, new Int8Array(rows));
    this.source = more(this.source, new Uint32Array(rows));
  }
}

/** Copies a batch's column (its chunks' values; a fixed-size list's child values) into `out` from row `at`. */
function copyColumn(vector: Vector | null, out: Uint8Array | Uint32Array, at: number, perRow: number): void {
  if (!vector) throw new Error('missing column');
  let offset = at * perRow;
  for (const chunk of vector.data) {
    const values = (perRow === 1 ? chunk.values : chunk.children[0].values) as Uint8Array | Uint32Array;
    const start = chunk.offset * perRow;
    const len = chunk.length * perRow;
    out.set(values.subarray(start, start + len), offset);
    offset += len;
  }
}

/** Removes the names no row has (in place), renumbering the codes. */
function dropUnusedSplits(splitNames: string[], splitCodes: Int8Array): void {
  const used = new Array<boolean>(splitNames.length).fill(false);
  for (let i = 0; i < splitCodes.length; i++) used[splitCodes[i]] = true;
  if (used.every(Boolean)) return;
  const renumber = new Int8Array(splitNames.length);
  let kept = 0;
  for (let k = 0; k < splitNames.length; k++) {
    renumber[k] = kept;
    if (used[k]) splitNames[kept++] = splitNames[k];
  }
  splitNames.length = kept;
  for (let i = 0; i < splitCodes.length; i++) splitCodes[i] = renumber[splitCodes[i]];
}

/**
 * Read an Arrow IPC file batch by batch from disk (a whole-file read stops at 2 GiB). Only the file format can be
 * read this way; a stream-format file is read whole.
 */
export async function readDataset(path: string): Promise<ImageDataset> {
  const handle = await open(path, 'r');
  try {
    if (!(await isIpcFile(handle))) return decodeDataset(await handle.readFile(), path);
    const reader = await RecordBatchReader.from(handle);
    await reader.open();
    // Every row takes at least its pixels and 6 bytes of the other columns: the file's size bounds the rows.
    const shapeText = reader.schema.metadata.get(SHAPE_KEY);
    const shape = shapeText ? (JSON.parse(shapeText) as number[]) : [1, 1, 1];
    const bound = Math.floor((await handle.stat()).size / (shape[0] * shape[1] * shape[2] + 6));
    const builder = new DatasetBuilder(reader.schema, path, bound);
    for await (const batch of reader) builder.add(batch);
    return builder.finish();
  } finally {
    await handle.close();
  }
}

/** The IPC file format starts with "ARROW1"; the stream format does not. */
async function isIpcFile(handle: FileHandle): Promise<boolean> {
  const magic = Buffer.alloc(6);
  const { bytesRead } = await handle.read(magic, 0, 6, 0);
  return bytesRead === 6 && magic.toString('latin1') === 'ARROW1';
}
