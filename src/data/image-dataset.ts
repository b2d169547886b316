// An image classification dataset held as flat typed arrays, stored as one Apache Arrow IPC file.
//
// Arrow schema (see docs/data-format.md):
//   label  : Uint8                       class index into metadata `pipe.classes`
//   pixels : FixedSizeList<Uint8>[h*w*c] row-major HWC grey/colour values 0..255
//   split  : Dictionary<Int8, Utf8>      e.g. "train" | "validation" | "test" (or a source's own names)
//   source : Uint32                      row number in the original source (CSV line, file index), for provenance
// Schema metadata: `pipe.shape` = JSON [h,w,c], `pipe.classes` = JSON string[], plus stage-specific keys
// (e.g. `pipe.normalise`), all JSON strings.
import { readFile, writeFile } from 'node:fs/promises';
import {
  Data,
  Dictionary,
  Field,
  FixedSizeList,
  Int8,
  makeData,
  RecordBatch,
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

function toTable(ds: ImageDataset): Table {
  const n = ds.labels.length;
  const size = imageSize(ds);
  if (ds.pixels.length !== n * size) {
    throw new Error(`pixels hold ${ds.pixels.length} bytes, expected ${n} rows × ${size}`);
  }
  const pixelType = new FixedSizeList(size, new Field('byte', new Uint8(), false));
  const splitType = new Dictionary(new Utf8(), new Int8(), 0, false);
  const splitDictionary = vectorFromArray(ds.splitNames, new Utf8());
  const fields = [
    new Field('label', new Uint8(), false),
    new Field('pixels', pixelType, false),
    new Field('split', splitType, false),
    new Field('source', new Uint32(), false),
  ];
  const metadata = new Map<string, string>(Object.entries(ds.metadata));
  metadata.set(SHAPE_KEY, JSON.stringify(ds.shape));
  metadata.set(CLASSES_KEY, JSON.stringify(ds.classes));
  const schema = new Schema(fields, metadata);
  const children: Data[] = [
    makeData({ type: new Uint8(), length: n, data: ds.labels }),
    makeData({
      type: pixelType,
      length: n,
      child: makeData({ type: new Uint8(), length: n * size, data: ds.pixels }),
    }),
    makeData<Dictionary<Utf8, Int8>>({ type: splitType, length: n, data: ds.splitCodes, dictionary: splitDictionary }),
    makeData({ type: new Uint32(), length: n, data: ds.source }),
  ];
  const struct = makeData({ type: new Struct(fields), length: n, children });
  return new Table([new RecordBatch(schema, struct)]);
}

/** Serialise to Arrow IPC file bytes. */
export function encodeDataset(ds: ImageDataset): Uint8Array {
  return tableToIPC(toTable(ds), 'file');
}

export async function writeDataset(path: string, ds: ImageDataset): Promise<void> {
  await writeFile(path, encodeDataset(ds));
}

function concatColumn<T extends Uint8Array | Int8Array | Uint32Array>(
  vector: Vector | null,
  Ctor: { new (n: number): T },
  perRow = 1,
): T {
  if (!vector) throw new Error('missing column');
  const out = new Ctor(vector.length * perRow);
  let offset = 0;
  for (const chunk of vector.data) {
    const values = (perRow === 1 ? chunk.values : chunk.children[0].values) as T;
    const start = chunk.offset * perRow;
    const len = chunk.length * perRow;
    out.set(values.subarray(start, start + len), offset);
    offset += len;
  }
  return out;
}

/** Parse Arrow IPC bytes (file or stream format) written by encodeDataset or another Arrow tool with the same schema. */
export function decodeDataset(bytes: Uint8Array, where = 'dataset'): ImageDataset {
  const table = tableFromIPC(bytes);
  const meta = table.schema.metadata;
  const shapeText = meta.get(SHAPE_KEY);
  const classesText = meta.get(CLASSES_KEY);
  if (!shapeText || !classesText) {
    throw new Error(`${where}: not a pipe image dataset (schema metadata lacks ${SHAPE_KEY} or ${CLASSES_KEY})`);
  }
  const shape = JSON.parse(shapeText) as [number, number, number];
  const classes = JSON.parse(classesText) as string[];
  const size = shape[0] * shape[1] * shape[2];
  const splitVector = table.getChild('split');
  if (!splitVector) throw new Error(`${where}: column "split" is missing`);
  // Dictionaries may differ per batch; map every batch's codes onto one list of names.
  const splitNames: string[] = [];
  const splitCodes = new Int8Array(table.numRows);
  let row = 0;
  for (const chunk of splitVector.data) {
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
  const metadata: Record<string, string> = {};
  for (const [k, v] of meta) if (k !== SHAPE_KEY && k !== CLASSES_KEY) metadata[k] = v;
  return {
    shape,
    classes,
    labels: concatColumn(table.getChild('label'), Uint8Array),
    pixels: concatColumn(table.getChild('pixels'), Uint8Array, size),
    splitNames,
    splitCodes,
    source: concatColumn(table.getChild('source'), Uint32Array),
    metadata,
  };
}

export async function readDataset(path: string): Promise<ImageDataset> {
  return decodeDataset(await readFile(path), path);
}
