// Reads an image-classification CSV (FER2013's `emotion,pixels,Usage` by default), plain or gzip, into the
// Arrow image dataset every other stage reads. The parsing itself lives in src/data/csv-image-parser.ts.
import { basename } from 'node:path';
import { FER2013_CLASSES } from '../src/data/fer2013.js';
import { imageShapeSchema } from '../src/data/image-shape-schema.js';
import { defineStage } from '../src/stage.js';

export interface IngestCsvParams {
  path: string;
  labelColumn: string;
  pixelsColumn: string;
  splitColumn: string | null;
  classes: string[];
  shape: [number, number, number];
  delimiter: string;
  allowedSplits?: string[] | null;
  onBadRow: 'error' | 'skip';
  rowsPerBatch?: number;
}

/** Bad rows listed one by one in the summary; the rest are only counted (all are in the log up to LOG_LIMIT). */
const SUMMARY_LIMIT = 100;
const LOG_LIMIT = 1000;

export default defineStage<IngestCsvParams>({
  name: 'ingest-csv',
  version: '1',
  description:
    'Read a CSV with one image per row (a label column, a column of space-separated pixel values 0..255, an optional split column), plain or .gz, into an Arrow image dataset. Defaults fit FER2013.',
  params: {
    type: 'object',
    additionalProperties: false,
    required: ['path'],
    properties: {
      path: {
        type: 'string',
        minLength: 1,
        'x-pipe-path': 'file',
        'x-pipe-hint':
          'FER2013 is not shipped with pipe: download fer2013.csv (ICML 2013 "Challenges in Representation Learning", e.g. from Kaggle), optionally gzip it, and give its path; pipelines/quickstart.yaml needs no download',
        description: 'CSV file to read, plain or gzip-compressed (detected from its first bytes), relative to the pipeline file.',
      },
      labelColumn: {
        type: 'string',
        minLength: 1,
        default: 'emotion',
        description: 'Header name of the label column: a class index 0..n-1 or a class name from `classes`.',
      },
      pixelsColumn: {
        type: 'string',
        minLength: 1,
        default: 'pixels',
        description: 'Header name of the column holding h*w*c space-separated integers 0..255, row-major HWC.',
      },
      splitColumn: {
        type: ['string', 'null'],
        minLength: 1,
        default: 'Usage',
        description:
          'Header name of the column whose values become the `split` column as they are (FER2013: Training, PublicTest, PrivateTest). null: the file has none and every row gets split "all".',
      },
      classes: {
        type: 'array',
        items: { type: 'string', minLength: 1 },
        minItems: 1,
        maxItems: 256,
        uniqueItems: true,
        default: FER2013_CLASSES,
        description: 'Class names in label order (label k is classes[k]). Default: the seven FER2013 emotions.',
      },
      shape: imageShapeSchema('Image shape [height, width, channels]; each row must hold exactly h*w*c pixel values.'),
      delimiter: {
        type: 'string',
        minLength: 1,
        maxLength: 1,
        default: ',',
        description: "Field delimiter, one character (e.g. ',', ';' or a tab).",
      },
      allowedSplits: {
        type: ['array', 'null'],
        items: { type: 'string', minLength: 1 },
        minItems: 1,
        uniqueItems: true,
        description:
          'Split values a row may have; any other value is a bad row. Default: Training, PublicTest, PrivateTest when splitColumn is "Usage", otherwise any non-empty value (null also means any).',
      },
      rowsPerBatch: {
        type: 'integer',
        minimum: 1,
        description: 'Rows per Arrow record batch, which is also how many parsed rows are held before they are written. Default: about 64 MiB of pixels.',
      },
      onBadRow: {
        enum: ['error', 'skip'],
        default: 'error',
        description:
          'What a malformed row does: error stops the stage naming file, line, column and fault; skip leaves it out and lists the skipped lines in the summary and the log.',
      },
    },
  },
  inputs: {},
  outputs: {
    data: { file: 'data.arrow', kind: 'dataset', description: 'Image dataset (Arrow IPC file): label, pixels, split, source = CSV line number.' },
  },
  facts: (p, _inputs, { id }) => ({
    outputs: { data: { imageShape: p.shape, source: { stage: id, params: ['shape'], says: `shape [${p.shape.join(', ')}]` } } },
  }),
  gateMetrics: () => ({ summary: ['rows', 'csvMegabytes', 'parseSeconds', 'seconds'] }),
  async run(ctx) {
    // apache-arrow takes ~0.3 s to load: start now, while the rest loads (and the CSV streams in, when rows are held).
    const datasetModule = import('../src/data/image-dataset.js');
    const { readCsvDataset } = await import('../src/data/read-csv-dataset.js');
    const { defaultAllowedSplits } = await import('../src/data/csv-image-parser.js');
    const p = ctx.params;
    const file = ctx.resolvePath(p.path);
    const started = performance.now();
    const allowedSplits = p.allowedSplits === undefined ? defaultAllowedSplits(p.splitColumn) : p.allowedSplits;
    const mb = (n: number) => (n / 1e6).toFixed(1);
    const metadata = { 'pipe.source': JSON.stringify({ kind: 'csv', file: basename(p.path), sourceColumn: 'line number' }) };
    // Rows stream into the file as they are parsed when the split names are known before reading (the file's
    // dictionary comes first): no split column, or a list of allowed splits. Otherwise they are held until the end.
    const declared = p.splitColumn === null ? ['all'] : allowedSplits;
    const options = {
      displayName: p.path,
      labelColumn: p.labelColumn,
      pixelsColumn: p.pixelsColumn,
      splitColumn: p.splitColumn,
      classes: p.classes,
      shape: p.shape,
      delimiter: p.delimiter,
      allowedSplits,
      onBadRow: p.onBadRow,
      signal: ctx.signal,
      onProgress: (r: import('../src/data/read-csv-dataset.js').ReadProgress) =>
        ctx.progress.update(
          `read ${mb(r.fileBytesRead)}/${mb(r.fileBytes)} MB · ${r.rows.toLocaleString('en-US')} rows` +
            (r.skipped ? ` · ${r.skipped} skipped` : ''),
        ),
    };
    let parsed: Awaited<ReturnType<typeof readCsvDataset>>;
    let counts: Record<string, number[]> = {};
    if (declared) {
      const { openDatasetWriter, rowsPerBatch } = await datasetModule;
      const header = { shape: p.shape, classes: p.classes, splitNames: declared, metadata, declaredSplits: true };
      const open = await openDatasetWriter(ctx.output('data'), header, { rowsPerBatch: p.rowsPerBatch });
      try {
        parsed = await readCsvDataset(file, {
          ...options,
          splitNames: declared,
          batchRows: p.rowsPerBatch ?? rowsPerBatch(p.shape),
          onBatch: (rows) => open.append(rows),
        });
        ctx.progress.update(`writing ${parsed.rows.toLocaleString('en-US')} rows`);
        await open.close();
      } catch (err) {
        await open.abort();
        throw err;
      }
      // Only the splits the file has rows in, as readDataset will see them.
      counts = Object.fromEntries(declared.map((name, k) => [name, open.counts[k]]).filter(([, byClass]) => (byClass as number[]).some((x) => x > 0)));
    } else {
      parsed = await readCsvDataset(file, options);
    }
    const parseSeconds = (performance.now() - started) / 1000;

    for (const bad of parsed.skipped.slice(0, LOG_LIMIT)) {
      ctx.log.warn({ line: bad.line, column: bad.column }, `skipped ${basename(p.path)}:${bad.line}: ${bad.column}: ${bad.message}`);
    }
    if (parsed.skipped.length > 0) {
      ctx.log.warn(`skipped ${parsed.skipped.length} bad row(s) of ${p.path}` + (parsed.skipped.length > LOG_LIMIT ? ` (first ${LOG_LIMIT} logged)` : ''));
    }

    if (!declared) {
      const { writeDataset, classCounts } = await datasetModule;
      const dataset = {
        shape: p.shape,
        classes: p.classes,
        labels: parsed.labels,
        pixels: parsed.pixels,
        splitNames: parsed.splitNames,
        splitCodes: parsed.splitCodes,
        source: parsed.source,
        metadata,
      };
      ctx.progress.update(`writing ${parsed.rows.toLocaleString('en-US')} rows`);
      await writeDataset(ctx.output('data'), dataset, { rowsPerBatch: p.rowsPerBatch });
      counts = classCounts(dataset);
    }

    const perSplit: Record<string, Record<string, number>> = {};
    for (const [split, byClass] of Object.entries(counts)) {
      perSplit[split] = Object.fromEntries(p.classes.map((c, k) => [c, byClass[k]]));
    }
    return {
      rows: parsed.rows,
      gzip: parsed.gzip,
      csvMegabytes: Number(mb(parsed.bytes)),
      splits: Object.fromEntries(Object.entries(counts).map(([s, c]) => [s, c.reduce((a, b) => a + b, 0)])),
      classCounts: perSplit,
      skipped: {
        count: parsed.skipped.length,
        rows: parsed.skipped.slice(0, SUMMARY_LIMIT),
        ...(parsed.skipped.length > SUMMARY_LIMIT ? { more: parsed.skipped.length - SUMMARY_LIMIT } : {}),
      },
      parseSeconds: Number(parseSeconds.toFixed(3)),
      seconds: Number(((performance.now() - started) / 1000).toFixed(3)),
    };
  },
});
