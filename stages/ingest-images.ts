// Reads an image folder tree <root>/<split>/<class>/*.jpg|jpeg|png (e.g. FER2013's train/ and test/ image
// distribution), or <root>/<class>/*.jpg (Keras's image_dataset_from_directory layout, one split 'all' for a
// split stage to divide), into the Arrow image dataset, decoding and resizing with sharp (libvips).
import { basename } from 'node:path';
import { PipeError } from '../src/errors.js';
import { imageShapeSchema } from '../src/data/image-shape-schema.js';
import { defineStage } from '../src/stage.js';
import type { FolderLayout } from '../src/data/image-folder.js';
import { DEFAULT_LIST_COLUMNS, type ImageListColumns } from '../src/data/image-list.js';

export interface IngestImagesParams {
  root?: string;
  list?: string;
  columns: ImageListColumns;
  shape: [number, number, number];
  grayscale: boolean;
  classes?: string[];
  fit: 'cover' | 'contain' | 'fill';
  layout: FolderLayout;
  rowsPerBatch?: number;
}

/** Images decoded at once: enough to keep libvips' threads busy, few enough to bound memory. */
const IN_FLIGHT = 16;
/** Written next to data.arrow: line k is the image whose `source` is k. */
const FILE_LIST = 'files.txt';

/** Grey images have one channel and colour ones three: a shape that says otherwise is refused at validate time. */
function channelProblems(p: Pick<IngestImagesParams, 'shape' | 'grayscale'>) {
  const [h, w, c] = p.shape;
  if (p.grayscale ? c === 1 : c === 3) return [];
  return [
    {
      at: ['shape', 2],
      message: `shape ${JSON.stringify(p.shape)} has ${c} channel(s) but grayscale is ${p.grayscale}`,
      hint: p.grayscale ? `use shape: [${h}, ${w}, 1], or grayscale: false for colour` : `use shape: [${h}, ${w}, 3], or grayscale: true`,
    },
  ];
}

export default defineStage<IngestImagesParams>({
  name: 'ingest-images',
  version: '1',
  description:
    'Read a folder tree <root>/<split>/<class>/*.jpg|jpeg|png or <root>/<class>/*.jpg|jpeg|png (split and class from the folder names), ' +
    'or a CSV or Parquet list of image paths with labels and optional splits, into an Arrow image dataset resized to one shape.',
  params: {
    type: 'object',
    additionalProperties: false,
    properties: {
      root: {
        type: 'string',
        minLength: 1,
        'x-pipe-path': 'dir',
        description: 'Folder holding one folder per split (e.g. train/, test/), each holding one folder per class; or one folder per class.',
      },
      list: {
        type: 'string',
        minLength: 1,
        'x-pipe-path': 'listing',
        description:
          'Instead of root: a CSV with a header (or a .parquet file) and one row per image: its path relative to the list\'s folder (which must hold every image), ' +
          'its label (a class name) and optionally its split (without one, every row is in split \'all\' for a split stage to divide).',
      },
      columns: {
        type: 'object',
        additionalProperties: false,
        description: 'With list: the names of its path, label and split columns.',
        properties: {
          path: { type: 'string', minLength: 1, default: DEFAULT_LIST_COLUMNS.path, description: 'Column of image paths.' },
          label: { type: 'string', minLength: 1, default: DEFAULT_LIST_COLUMNS.label, description: 'Column of class names.' },
          split: { type: 'string', minLength: 1, default: DEFAULT_LIST_COLUMNS.split, description: "Column of split names; may be absent from the file when left at 'split'." },
        },
        default: {},
      },
      layout: {
        enum: ['auto', 'splits', 'classes'],
        default: 'auto',
        description:
          "'splits': <root>/<split>/<class>/<image>. 'classes': <root>/<class>/<image>, every row in split 'all' (divide it with a split stage's fractions). 'auto': classes when the root's folders hold images, else splits.",
      },
      shape: imageShapeSchema('Target [height, width, channels]; channels must be 1 when grayscale is true, else 3.'),
      grayscale: {
        type: 'boolean',
        default: true,
        description: 'Convert images to one grey channel (transparent areas become black).',
      },
      classes: {
        type: 'array',
        items: { type: 'string', minLength: 1 },
        minItems: 1,
        maxItems: 256,
        uniqueItems: true,
        description:
          'Class names in label order, matching the class folder names. Default: the class folder names, sorted. A class folder not listed is an error.',
      },
      rowsPerBatch: {
        type: 'integer',
        minimum: 1,
        description: 'Rows per Arrow record batch, which is also how many decoded images are held before they are written. Default: about 64 MiB of pixels.',
      },
      fit: {
        enum: ['cover', 'contain', 'fill'],
        default: 'cover',
        description:
          'How an image of another aspect ratio reaches the shape: cover crops the centre, contain pads with black, fill stretches.',
      },
    },
  },
  inputs: {},
  outputs: {
    data: {
      file: 'data.arrow',
      kind: 'dataset',
      description: `Image dataset (Arrow IPC file); source = line number in ${FILE_LIST} (next to it), which lists the image files.`,
    },
  },
  check: (params) => [
    ...((params.root === undefined) === (params.list === undefined)
      ? [{ at: [], message: params.root === undefined ? 'give root (an image folder) or list (a CSV or Parquet list of image paths)' : 'give root or list, not both', hint: 'root: <folder> reads a folder tree; list: <file.csv|file.parquet> reads the images a list names' }]
      : []),
    ...channelProblems(params),
  ],
  facts: (p, _inputs, { id }) => ({
    outputs: {
      data: { imageShape: p.shape, source: { stage: id, params: ['shape', 'grayscale'], says: `shape [${p.shape.join(', ')}]${p.grayscale ? ', grey' : ''}` } },
    },
  }),
  gateMetrics: () => ({ summary: ['rows', 'ignored', 'seconds'] }),
  async run(ctx) {
    const p = ctx.params;
    const [h, w, c] = p.shape;
    const [mismatch] = channelProblems(p);
    if (mismatch) throw new PipeError(mismatch.message, { hint: mismatch.hint });
    const { decodeImage, IMAGE_PREPARATION_KEY } = await import('../src/data/decode-image.js');
    const { listImageFolder, UNSPLIT } = await import('../src/data/image-folder.js');
    const { openDatasetWriter, rowsPerBatch } = await import('../src/data/image-dataset.js');
    const { writeFile } = await import('node:fs/promises');
    const { join } = await import('node:path');
    const started = performance.now();

    const from = (p.root ?? p.list)!;
    ctx.progress.update(`listing ${from}`);
    const listing = p.root
      ? await listImageFolder(ctx.resolvePath(p.root), p.classes, p.root, p.layout)
      : await (await import('../src/data/image-list.js')).listImageList(ctx.resolvePath(p.list!), p.classes, p.columns, p.list);
    if (listing.splits.length === 1 && listing.splits[0] === UNSPLIT) {
      ctx.log.info(`${from} names no splits: every row is in split '${UNSPLIT}'; a split stage with fractions divides it`);
    }
    if (listing.ignored.length > 0) {
      ctx.log.info(`ignored ${listing.ignored.length} entries that are not .jpg/.jpeg/.png images, e.g. ${listing.ignored.slice(0, 3).join(', ')}`);
    }
    const n = listing.files.length;
    const size = h * w * c;
    const batchRows = p.rowsPerBatch ?? rowsPerBatch(p.shape);
    const splitCodeOf = new Map(listing.splits.map((name, k) => [name, k]));
    const writer = await openDatasetWriter(
      ctx.output('data'),
      {
        shape: p.shape,
        classes: listing.classes,
        splitNames: listing.splits,
        metadata: {
          'pipe.source': JSON.stringify({ kind: 'images', ...(p.root ? { root: basename(p.root) } : { list: basename(p.list!) }), sourceColumn: `line number in ${FILE_LIST}` }),
          [IMAGE_PREPARATION_KEY]: JSON.stringify({ fit: p.fit }),
        },
      },
      { rowsPerBatch: batchRows },
    );

    // libvips' warnings (a bad checksum in a PNG chunk, a damaged JPEG tile) sit in one queue for the whole process
    // and are handed to whichever image finishes next, so with several images in flight they cannot be pinned on
    // one. Images in flight when one arrived are decoded again afterwards, one at a time, and only those warnings
    // are logged, each with its file's name.
    const inFlight = new Set<number>();
    const suspects = new Set<number>();
    const decodeFile = (i: number, onWarning: (warning: string) => void) =>
      decodeImage(listing.files[i].absolute, { shape: p.shape, fit: p.fit }, onWarning);
    const shownName = (i: number) => (p.root ? `${p.root}/${listing.files[i].relative}` : `${listing.files[i].relative} (from ${p.list})`);

    // Rows go to the writer a batch at a time, in file order, so the output does not depend on which decode
    // finishes first; a batch is written while the next one decodes.
    let batch = emptyBatch(0, 0);
    const decode = async (i: number): Promise<void> => {
      const file = listing.files[i];
      const shown = shownName(i);
      let data: Buffer;
      inFlight.add(i);
      try {
        data = await decodeFile(i, () => inFlight.forEach((j) => suspects.add(j)));
      } catch (err) {
        throw new PipeError(`cannot decode ${shown}: ${(err as Error).message}`, {
          hint: 'the file is damaged or not really a JPEG/PNG; replace or delete it',
          cause: err,
        });
      } finally {
        inFlight.delete(i);
      }
      const row = i - batch.start;
      batch.pixels.set(data, row * size);
      batch.labels[row] = file.label;
      batch.splitCodes[row] = splitCodeOf.get(file.split)!;
      batch.source[row] = i + 1;
    };
    function emptyBatch(start: number, rows: number) {
      return { start, labels: new Uint8Array(rows), pixels: new Uint8Array(rows * size), splitCodes: new Int8Array(rows), source: new Uint32Array(rows) };
    }

    let done = 0;
    let lastReport = 0;
    try {
      for (let start = 0; start < n; start += batchRows) {
        const end = Math.min(n, start + batchRows);
        batch = emptyBatch(start, end - start);
        let next = start;
        let failed = false;
        const worker = async () => {
          while (next < end && !failed) {
            ctx.signal.throwIfAborted();
            try {
              await decode(next++);
            } catch (err) {
              failed = true; // the other workers stop at their next image
              throw err;
            }
            done++;
            const now = Date.now();
            if (now - lastReport >= 250) {
              lastReport = now;
              ctx.progress.update(`decoded ${done.toLocaleString('en-US')}/${n.toLocaleString('en-US')} images`);
            }
          }
        };
        await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, end - start) }, worker));
        // Waits for the previous batch to reach the disk, then queues this one and decoding goes on.
        await writer.append(batch);
      }
      for (const i of [...suspects].sort((a, b) => a - b)) {
        const shown = shownName(i);
        await decodeFile(i, (warning) => ctx.log.warn({ file: shown }, `${shown}: ${warning}`));
      }
      ctx.progress.update(`writing ${n.toLocaleString('en-US')} rows`);
      await writer.close();
    } catch (err) {
      await writer.abort();
      throw err;
    }
    await writeFile(join(ctx.outDir, FILE_LIST), listing.files.map((f) => f.relative).join('\n') + '\n');

    const counts = Object.fromEntries(listing.splits.map((name, k) => [name, writer.counts[k]]));
    return {
      rows: n,
      classes: listing.classes,
      splits: Object.fromEntries(Object.entries(counts).map(([s, k]) => [s, k.reduce((a, b) => a + b, 0)])),
      classCounts: Object.fromEntries(
        Object.entries(counts).map(([s, k]) => [s, Object.fromEntries(listing.classes.map((name, j) => [name, k[j]]))]),
      ),
      ignored: listing.ignored.length,
      seconds: Number(((performance.now() - started) / 1000).toFixed(3)),
    };
  },
});
