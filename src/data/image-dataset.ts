// An image classification dataset held as flat typed arrays, stored as one Apache Arrow IPC file.
//
// Arrow schema (see docs/data-format.md):
//   label  : Uint8                       class index into metadata `pipe.classes`
//   pixels : FixedSizeList<Uint8>[h*w*c] row-major HWC grey/colour values 0..255
//   split  : Dictionary<Int8, Utf8>      e.g. "train" | "validation" | "test" (or a source's own names)
//   source : Uint32                      row number in the original source (CSV line, file index), for provenance
// Schema metadata: `pipe.shape` = JSON [h,w,c], `pipe.classes` = JSON string[], plus stage-specific keys
// (e.g. `pipe.normalise`), all JSON strings.
//
// readDataset reads a file whole; openDatasetReader reads the small columns of every row and then any batch on
// its own, and openDatasetWriter writes batches as they are made, so a stage that keeps or copies rows
// (copyRows) holds a few batches rather than the dataset.
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
  AsyncRecordBatchFileReader,
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
  /**
   * Copies row `i` of `from` into the next batch the writer fills itself (fresh arrays of rowsPerBatch rows), and
   * appends that batch once it is full: rows gathered one by one from anywhere (several batches of an input, in
   * any order) come out in batches of the same size as writeDataset's. Appends and copies keep their order.
   */
  copyRow(from: DatasetRows, i: number): Promise<void>;
  /** Rows appended or copied so far. */
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
  const push = async (more: DatasetRows) => {
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
  };
  const abort = async () => {
    if (closed) return;
    closed = true;
    writer.abort();
    await drained;
    await handle.close();
  };
  // Rows copied one by one, waiting for a full batch.
  let pending: DatasetRows | null = null;
  let pendingRows = 0;
  const flush = async () => {
    if (pending === null || pendingRows === 0) return;
    const full = pending;
    const n = pendingRows;
    pending = null;
    pendingRows = 0;
    await push(
      n === step
        ? full
        : { labels: full.labels.subarray(0, n), pixels: full.pixels.subarray(0, n * size), splitCodes: full.splitCodes.subarray(0, n), source: full.source.subarray(0, n) },
    );
  };
  return {
    get rows() {
      return rows + pendingRows;
    },
    counts,
    async append(more) {
      if (closed) throw new Error('dataset writer is closed');
      await flush();
      await push(more);
    },
    async copyRow(from, i) {
      if (closed) throw new Error('dataset writer is closed');
      if (!(i >= 0 && i < from.labels.length)) throw new RangeError(`row ${i} is not one of ${from.labels.length}`);
      if (pending === null) {
        pending = { labels: new Uint8Array(step), pixels: new Uint8Array(step * size), splitCodes: new Int8Array(step), source: new Uint32Array(step) };
      }
      const j = pendingRows++;
      pending.labels[j] = from.labels[i];
      pending.splitCodes[j] = from.splitCodes[i];
      pending.source[j] = from.source[i];
      pending.pixels.set(from.pixels.subarray(i * size, (i + 1) * size), j * size);
      if (pendingRows === step) await flush();
    },
    async close() {
      if (closed) return;
      try {
        await flush();
      } catch (err) {
        await abort();
        throw err;
      }
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
    abort,
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
  private readonly metadata: Record<string, string>;
  private readonly declaredSplits: boolean;
  private readonly splitNames: string[] = [];
  private labels: Uint8Array;
  private pixels: Uint8Array;
  private splitCodes: Int8Array;
  private source: Uint32Array;
  private rows = 0;

  /** `capacity`: the rows expected (an upper bound saves growing the arrays). */
  constructor(schema: Schema, where: string, capacity: number) {
    const header = headerOf(schema, where);
    this.shape = header.shape;
    this.classes = header.classes;
    this.size = imageSize(header);
    this.metadata = header.metadata;
    this.declaredSplits = header.declaredSplits === true;
    this.labels = new Uint8Array(capacity);
    this.pixels = new Uint8Array(capacity * this.size);
    this.splitCodes = new Int8Array(capacity);
    this.source = new Uint32Array(capacity);
  }

  add(batch: RecordBatch): void {
    const rows = batchColumns(batch, this.size, this.splitNames);
    const n = rows.labels.length;
    if (this.rows + n > this.labels.length) this.grow(Math.max(this.rows + n, this.labels.length * 2));
    const at = this.rows;
    this.labels.set(rows.labels, at);
    this.pixels.set(rows.pixels, at * this.size);
    this.splitCodes.set(rows.splitCodes, at);
    this.source.set(rows.source, at);
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

/**
 * The shape, classes and metadata a pipe dataset's schema carries, after checking that it is one (split names are
 * left empty: they come with the batches' dictionaries).
 */
function headerOf(schema: Schema, where: string): DatasetHeader {
  const meta = schema.metadata;
  const shapeText = meta.get(SHAPE_KEY);
  const classesText = meta.get(CLASSES_KEY);
  if (!shapeText || !classesText) {
    throw new Error(`${where}: not a pipe image dataset (schema metadata lacks ${SHAPE_KEY} or ${CLASSES_KEY})`);
  }
  const metadata: Record<string, string> = {};
  for (const [k, v] of meta) if (k !== SHAPE_KEY && k !== CLASSES_KEY && k !== DECLARED_SPLITS_KEY) metadata[k] = v;
  for (const name of ['label', 'pixels', 'split', 'source']) {
    if (!schema.fields.some((f) => f.name === name)) throw new Error(`${where}: column "${name}" is missing`);
  }
  return {
    shape: JSON.parse(shapeText) as [number, number, number],
    classes: JSON.parse(classesText) as string[],
    splitNames: [],
    metadata,
    declaredSplits: meta.get(DECLARED_SPLITS_KEY) === 'true',
  };
}

/**
 * A record batch's columns as DatasetRows: views of the batch's buffers where a column is one chunk (as the writer
 * makes them), copies otherwise. Dictionaries may differ per batch; every batch's split codes are mapped onto one
 * list of names, `splitNames`, which grows as new names appear.
 */
function batchColumns(batch: RecordBatch, size: number, splitNames: string[]): DatasetRows {
  const n = batch.numRows;
  const splitCodes = new Int8Array(n);
  let row = 0;
  for (const chunk of column(batch, 'split').data) {
    const dict = chunk.dictionary;
    const local: number[] = [];
    if (dict) {
      for (let k = 0; k < dict.length; k++) {
        const name = String(dict.get(k));
        let code = splitNames.indexOf(name);
        if (code < 0) code = splitNames.push(name) - 1;
        local.push(code);
      }
    }
    const codes = chunk.values as ArrayLike<number>;
    for (let k = 0; k < chunk.length; k++) splitCodes[row++] = local[codes[chunk.offset + k]];
  }
  return {
    labels: columnValues(column(batch, 'label'), new Uint8Array(n), 1),
    pixels: columnValues(column(batch, 'pixels'), new Uint8Array(n * size), size),
    splitCodes,
    source: columnValues(column(batch, 'source'), new Uint32Array(n), 1),
  };
}

function column(batch: RecordBatch, name: string): Vector {
  const vector = batch.getChild(name);
  if (!vector) throw new Error(`missing column ${name}`);
  return vector;
}

/**
 * A batch's column values (its chunks' values; a fixed-size list's child values): a view of the one chunk's values,
 * or the chunks copied into `out`.
 */
function columnValues<T extends Uint8Array | Uint32Array>(vector: Vector, out: T, perRow: number): T {
  const valuesOf = (chunk: Data) => {
    const values = (perRow === 1 ? chunk.values : chunk.children[0].values) as T;
    return values.subarray(chunk.offset * perRow, (chunk.offset + chunk.length) * perRow) as T;
  };
  if (vector.data.length === 1 && vector.data[0].length * perRow === out.length) return valuesOf(vector.data[0]);
  let offset = 0;
  for (const chunk of vector.data) {
    const values = valuesOf(chunk);
    out.set(values, offset);
    offset += values.length;
  }
  if (offset !== out.length) throw new Error(`column ${vector.type} holds ${offset / perRow} rows, the batch ${out.length / perRow}`);
  return out;
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

/** The small columns of every row: what choosing rows (splits, resampling, a split's rows) needs, without pixels. */
export interface DatasetColumns {
  labels: Uint8Array;
  splitCodes: Int8Array;
  source: Uint32Array;
}

/**
 * A dataset file read a batch at a time: the small columns of every row are read when it opens (6 bytes a row),
 * pixels only when a batch is asked for. Memory holds the columns and one batch, whatever the file's size.
 */
export interface DatasetReader {
  /** Shape, classes, metadata and split names as readDataset gives them (names declared ahead that no row has are dropped). */
  readonly header: DatasetHeader;
  /** Rows in the file. */
  readonly rows: number;
  /** Every row's label, split code (an index into header.splitNames) and source. */
  readonly columns: DatasetColumns;
  /** Record batches in the file. */
  readonly batchCount: number;
  /** The first row of batch b; batchStart(batchCount) is the row count. */
  batchStart(b: number): number;
  /** The batch that holds row i. */
  batchOf(i: number): number;
  /**
   * Batch b's rows: pixels read from the file (a view of the batch as read), the other columns views of `columns`.
   * The batch read last is kept, so asking for it again reads nothing.
   */
  batch(b: number): Promise<DatasetRows>;
  close(): Promise<void>;
}

/**
 * Opens a dataset file for reading batch by batch, in any order: the IPC file format's footer locates each record
 * batch, so batch b is read alone. A stream-format file (another Arrow tool's) is read whole.
 */
export async function openDatasetReader(path: string): Promise<DatasetReader> {
  const handle = await open(path, 'r');
  try {
    let schema: Schema;
    let batchCount: number;
    let readBatch: (b: number) => Promise<RecordBatch>;
    if (await isIpcFile(handle)) {
      const reader = await RecordBatchReader.from(handle);
      await reader.open();
      if (!(reader instanceof AsyncRecordBatchFileReader)) throw new Error(`${path}: expected an Arrow IPC file`);
      schema = reader.schema;
      batchCount = reader.numRecordBatches;
      readBatch = async (b) => {
        const batch = await reader.readRecordBatch(b);
        if (!batch) throw new Error(`${path}: record batch ${b} of ${batchCount} could not be read`);
        return batch;
      };
    } else {
      const table = tableFromIPC(await handle.readFile());
      schema = table.schema;
      batchCount = table.batches.length;
      readBatch = async (b) => table.batches[b];
    }
    const header = headerOf(schema, path);
    const size = imageSize(header);
    // Every row takes at least its pixels and 6 bytes of the other columns: the file's size bounds the rows.
    let capacity = Math.floor((await handle.stat()).size / (size + 6));
    let labels = new Uint8Array(capacity);
    let splitCodes = new Int8Array(capacity);
    let source = new Uint32Array(capacity);
    const starts = new Float64Array(batchCount + 1);
    let rows = 0;
    for (let b = 0; b < batchCount; b++) {
      const part = batchColumns(await readBatch(b), size, header.splitNames);
      const n = part.labels.length;
      if (rows + n > capacity) {
        capacity = Math.max(rows + n, capacity * 2);
        labels = grown(labels, new Uint8Array(capacity));
        splitCodes = grown(splitCodes, new Int8Array(capacity));
        source = grown(source, new Uint32Array(capacity));
      }
      labels.set(part.labels, rows);
      splitCodes.set(part.splitCodes, rows);
      source.set(part.source, rows);
      rows += n;
      starts[b + 1] = rows;
    }
    const columns: DatasetColumns = { labels: labels.subarray(0, rows), splitCodes: splitCodes.subarray(0, rows), source: source.subarray(0, rows) };
    if (header.declaredSplits) dropUnusedSplits(header.splitNames, columns.splitCodes);
    delete header.declaredSplits;
    let last: { b: number; rows: DatasetRows } | null = null;
    const batchOf = (i: number) => {
      if (!(i >= 0 && i < rows)) throw new RangeError(`row ${i} is not one of ${rows}`);
      // The last batch whose first row is at or before i (empty batches are passed over).
      let lo = 0;
      let hi = batchCount - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (starts[mid] <= i) lo = mid;
        else hi = mid - 1;
      }
      return lo;
    };
    return {
      header,
      rows,
      columns,
      batchCount,
      batchStart: (b) => starts[b],
      batchOf,
      async batch(b) {
        if (last?.b === b) return last.rows;
        last = null;
        const start = starts[b];
        const end = starts[b + 1];
        const read = await readBatch(b);
        if (read.numRows !== end - start) throw new Error(`${path}: record batch ${b} holds ${read.numRows} rows, ${end - start} when opened`);
        const pixels = columnValues(column(read, 'pixels'), new Uint8Array((end - start) * size), size);
        const out: DatasetRows = {
          labels: columns.labels.subarray(start, end),
          pixels,
          splitCodes: columns.splitCodes.subarray(start, end),
          source: columns.source.subarray(start, end),
        };
        last = { b, rows: out };
        return out;
      },
      async close() {
        last = null;
        await handle.close();
      },
    };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

function grown<T extends Uint8Array | Int8Array | Uint32Array>(old: T, fresh: T): T {
  fresh.set(old);
  return fresh;
}

/**
 * Writes rows of `reader` to `writer` in the order of `picks` (row indices of the reader; rows may repeat; default
 * every row in file order), in batches of the writer's size. A row's pixels come from its batch, read when the row
 * before it came from another batch: picks in file order read each batch once; any order is correct, only slower.
 * `splitCodes` (one per input row) replaces the input's codes, e.g. with a new split assignment; `onBatch` is
 * awaited before each batch is read, with the number of rows copied so far (progress, and a chance to stop).
 */
export async function copyRows(
  reader: DatasetReader,
  writer: DatasetWriter,
  options: { picks?: ArrayLike<number>; splitCodes?: Int8Array; onBatch?: (copied: number) => void | Promise<void> } = {},
): Promise<void> {
  if (options.splitCodes && options.splitCodes.length !== reader.rows) {
    throw new Error(`${options.splitCodes.length} split codes for ${reader.rows} rows`);
  }
  const picks = options.picks;
  const count = picks ? picks.length : reader.rows;
  let start = 0;
  let end = 0;
  let rows: DatasetRows | null = null;
  for (let j = 0; j < count; j++) {
    const i = picks ? picks[j] : j;
    if (rows === null || i < start || i >= end) {
      await options.onBatch?.(j);
      const b = reader.batchOf(i);
      start = reader.batchStart(b);
      end = reader.batchStart(b + 1);
      rows = await reader.batch(b);
      if (options.splitCodes) rows = { ...rows, splitCodes: options.splitCodes.subarray(start, end) };
    }
    await writer.copyRow(rows, i - start);
  }
}
