// ingest-csv run for real on small generated CSV files (plain and gzip): exact round trips, every kind of bad
// row, skip mode, and the file-level errors (empty, missing header or column, wrong delimiter, corrupt gzip).
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import ingestCsv from '../../stages/ingest-csv.js';
import { RecordBatchReader } from 'apache-arrow';
import { readDataset } from '../../src/data/image-dataset.js';
import { readFile } from 'node:fs/promises';
import { PipeError } from '../../src/errors.js';
import { runStage } from '../../harness/stage-harness.js';

interface Row {
  label: number | string;
  pixels: number[];
  usage?: string;
}

const FER_SIZE = 48 * 48;

/** Deterministic pixel values 0..255 that differ per row. */
function pixelsFor(seed: number, size: number): number[] {
  return Array.from({ length: size }, (_, i) => (i * 7 + seed * 31 + ((i * seed) % 13)) % 256);
}

function ferCsv(rows: Row[], eol = '\n'): string {
  const lines = ['emotion,pixels,Usage'];
  for (const r of rows) lines.push(`${r.label},${r.pixels.join(' ')},${r.usage ?? 'Training'}`);
  return lines.join(eol) + eol;
}

/** Temp folders made by these tests (inputs and the harness's output folders), removed at the end. */
const temporary: string[] = [];
after(() => Promise.all(temporary.map((dir) => rm(dir, { recursive: true, force: true }))));

/** Writes a file in a fresh temp folder; returns the folder (the pipeline's folder) and the file's relative name. */
async function tempFile(name: string, content: string | Uint8Array): Promise<{ dir: string; path: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'pipe-ingest-csv-test-'));
  temporary.push(dir);
  await writeFile(join(dir, name), content);
  return { dir, path: name };
}

async function ingest(file: { dir: string; path: string }, params: Record<string, unknown> = {}) {
  const result = await runStage(ingestCsv, { baseDir: file.dir, params: { path: file.path, ...params } });
  temporary.push(join(result.outDir, '..'));
  return { result, dataset: await readDataset(result.outputs.data) };
}

async function ingestError(content: string | Uint8Array, params: Record<string, unknown> = {}, name = 'faces.csv'): Promise<PipeError> {
  const file = await tempFile(name, content);
  try {
    await runStage(ingestCsv, { baseDir: file.dir, params: { path: file.path, ...params } });
  } catch (err) {
    assert.ok(err instanceof PipeError, `expected a PipeError, got ${String(err)}`);
    return err;
  }
  assert.fail('ingest-csv should have failed');
}

const goodRows: Row[] = [
  { label: 3, pixels: pixelsFor(1, FER_SIZE), usage: 'Training' },
  { label: 0, pixels: pixelsFor(2, FER_SIZE).map(() => 0), usage: 'Training' },
  { label: 6, pixels: pixelsFor(3, FER_SIZE).map(() => 255), usage: 'PublicTest' },
  { label: 1, pixels: pixelsFor(4, FER_SIZE), usage: 'PrivateTest' },
  { label: 5, pixels: pixelsFor(5, FER_SIZE), usage: 'Training' },
];

function assertRoundTrip(dataset: Awaited<ReturnType<typeof readDataset>>, rows: Row[], firstLine = 2): void {
  assert.deepEqual(dataset.shape, [48, 48, 1]);
  assert.deepEqual(dataset.classes, ['Angry', 'Disgust', 'Fear', 'Happy', 'Sad', 'Surprise', 'Neutral']);
  assert.deepEqual([...dataset.labels], rows.map((r) => r.label));
  assert.deepEqual(dataset.pixels, Uint8Array.from(rows.flatMap((r) => r.pixels)));
  assert.deepEqual(
    [...dataset.splitCodes].map((c) => dataset.splitNames[c]),
    rows.map((r) => r.usage),
  );
  assert.deepEqual([...dataset.source], rows.map((_, i) => firstLine + i));
}

test('plain FER2013-style CSV round-trips exactly, source = CSV line number', async () => {
  const path = await tempFile('fer.csv', ferCsv(goodRows));
  const { result, dataset } = await ingest(path);
  assertRoundTrip(dataset, goodRows);
  const summary = result.summary as Record<string, any>;
  assert.equal(summary.rows, 5);
  assert.equal(summary.gzip, false);
  assert.deepEqual(summary.splits, { Training: 3, PublicTest: 1, PrivateTest: 1 });
  assert.equal(summary.classCounts.Training.Happy, 1);
  assert.equal(summary.skipped.count, 0);
  assert.ok(result.progress.some((line) => /rows/.test(line)), 'reports progress');
});

test('gzip is detected from the magic bytes, not the file name', async () => {
  const path = await tempFile('fer-compressed.csv', gzipSync(ferCsv(goodRows)));
  const { result, dataset } = await ingest(path);
  assertRoundTrip(dataset, goodRows);
  assert.equal((result.summary as Record<string, unknown>).gzip, true);
});

test('a multi-megabyte file (rows across many read chunks, CRLF, no final newline) round-trips through gzip', async () => {
  const rows: Row[] = Array.from({ length: 600 }, (_, i) => ({
    label: i % 7,
    pixels: pixelsFor(i, FER_SIZE),
    usage: ['Training', 'PublicTest', 'PrivateTest'][i % 3],
  }));
  const text = ferCsv(rows, '\r\n').replace(/\r\n$/, '');
  assert.ok(text.length > 4 << 20, 'spans several 1 MiB chunks');
  const { dataset } = await ingest(await tempFile('big.csv.gz', gzipSync(text)));
  assertRoundTrip(dataset, rows);
});

test('other layouts: no split column, class names as labels, ";" delimiter, quoted fields, extra columns, blank lines', async () => {
  const csv = [
    'id;"kind";img;note',
    '7;cat;"1 2 3 4 5 6";"said ""hi"""',
    '',
    '8;"dog";6 5 4 3 2 1;"two',
    'lines"',
    '9;1;0 0 0 255 255 255;',
  ].join('\n');
  const path = await tempFile('pets.csv', csv);
  const { dataset } = await ingest(path, {
    labelColumn: 'kind',
    pixelsColumn: 'img',
    splitColumn: null,
    classes: ['cat', 'dog'],
    shape: [1, 2, 3],
    delimiter: ';',
  });
  assert.deepEqual([...dataset.labels], [0, 1, 1]);
  assert.deepEqual([...dataset.pixels], [1, 2, 3, 4, 5, 6, 6, 5, 4, 3, 2, 1, 0, 0, 0, 255, 255, 255]);
  assert.deepEqual(dataset.splitNames, ['all']);
  assert.deepEqual([...dataset.splitCodes], [0, 0, 0]);
  // Line numbers of where each row starts; the quoted newline makes the last row start on line 6.
  assert.deepEqual([...dataset.source], [2, 4, 6]);
});

test('split values are free-form when splitColumn is not Usage, and allowedSplits restricts them', async () => {
  const csv = 'label,pixels,fold\n0,1 2,a\n1,3 4,b\n0,5 6,a\n';
  const params = { labelColumn: 'label', splitColumn: 'fold', classes: ['x', 'y'], shape: [1, 2, 1] };
  const { dataset } = await ingest(await tempFile('folds.csv', csv), params);
  assert.deepEqual(dataset.splitNames, ['a', 'b']);
  const err = await ingestError(csv, { ...params, allowedSplits: ['a'] });
  assert.match(err.message, /:3:\d+: column 'fold': unknown fold 'b' \(allowed: a\)/);
  assert.match(err.hint ?? '', /list it in allowedSplits \(or set allowedSplits: null to accept any value\)/);
});

test('rows stream to the file in batches as they are parsed; only the splits the file has are in the dataset', async () => {
  const rows: Row[] = Array.from({ length: 23 }, (_, i) => ({ label: i % 7, pixels: pixelsFor(i, FER_SIZE), usage: i < 20 ? 'Training' : 'PrivateTest' }));
  const file = await tempFile('fer.csv.gz', gzipSync(ferCsv(rows)));
  const { result, dataset } = await ingest(file, { rowsPerBatch: 4 });
  assertRoundTrip(dataset, rows);
  assert.deepEqual(dataset.splitNames, ['Training', 'PrivateTest'], 'PublicTest is allowed but no row has it');
  const batches = [...(await RecordBatchReader.from(await readFile(result.outputs.data)))].map((b) => b.numRows);
  assert.deepEqual(batches, [4, 4, 4, 4, 4, 3]);
  const summary = result.summary as Record<string, any>;
  assert.deepEqual(summary.splits, { Training: 20, PrivateTest: 3 });
  assert.equal(summary.rows, 23);
  const { dataset: whole } = await ingest(file);
  assert.deepEqual(whole, dataset, 'the same dataset as in one batch');

  // With split values not known before reading (allowedSplits: null) the rows are held, then written in batches.
  const free = await ingest(file, { rowsPerBatch: 4, allowedSplits: null });
  assertRoundTrip(free.dataset, rows);
  assert.deepEqual(free.dataset.splitNames, ['Training', 'PrivateTest']);
  assert.deepEqual([...(await RecordBatchReader.from(await readFile(free.result.outputs.data)))].map((b) => b.numRows), [4, 4, 4, 4, 4, 3]);
});

test('skipped rows leave no gap in a streamed batch, and a file without a split column streams as split all', async () => {
  const lines = ferCsv(goodRows).trimEnd().split('\n');
  lines[2] = lines[2].replace(/^\d+/, '9');
  const { result, dataset } = await ingest(await tempFile('fer.csv', lines.join('\n') + '\n'), { rowsPerBatch: 2, onBadRow: 'skip' });
  const kept = goodRows.filter((_, i) => i !== 1);
  assert.deepEqual([...dataset.labels], kept.map((r) => r.label));
  assert.deepEqual(dataset.pixels, Uint8Array.from(kept.flatMap((r) => r.pixels)));
  assert.deepEqual([...dataset.source], [2, 4, 5, 6]);
  assert.equal((result.summary as Record<string, any>).skipped.count, 1);

  const plain = 'emotion,pixels\n' + goodRows.map((r) => `${r.label},${r.pixels.join(' ')}`).join('\n') + '\n';
  const unsplit = await ingest(await tempFile('plain.csv', plain), { rowsPerBatch: 2, splitColumn: null });
  assert.deepEqual(unsplit.dataset.splitNames, ['all']);
  assert.deepEqual([...unsplit.dataset.labels], goodRows.map((r) => r.label));
  assert.deepEqual((unsplit.result.summary as Record<string, any>).splits, { all: 5 });
});

const badRowCases: Array<[string, (rows: string[]) => void, RegExp]> = [
  ['too few pixels', (l) => (l[2] = `1,${pixelsFor(1, FER_SIZE - 1).join(' ')},Training`), /:3:\d+: column 'pixels': pixels has 2303 values, expected 2304/],
  ['too many pixels', (l) => (l[2] = `1,${pixelsFor(1, FER_SIZE + 1).join(' ')},Training`), /:3:\d+: column 'pixels': pixels has 2305 values, expected 2304/],
  ['value out of range', (l) => (l[3] = l[3].replace(/,\d+ /, ',300 ')), /:4:\d+: column 'pixels': pixels value 300 out of 0\.\.255 \(value 1 of 2304\)/],
  ['label not a class', (l) => (l[2] = l[2].replace(/^\d+/, '9')), /:3:\d+: column 'emotion': emotion 9 is not a class \(expected 0\.\.6: 0 Angry/],
  ['unknown Usage', (l) => (l[4] = l[4].replace(/PrivateTest$/, 'Test')), /:5:\d+: column 'Usage': unknown Usage 'Test' \(allowed: Training, PublicTest, PrivateTest\)/],
  ['invalid character', (l) => (l[1] = l[1].replace(/ (\d+) /, ' 1.5 ')), /:2:\d+: column 'pixels': pixels has invalid character '\.' in value 2/],
  ['negative value', (l) => (l[1] = l[1].replace(/ (\d+) /, ' -4 ')), /:2:\d+: column 'pixels': pixels has invalid character '-'/],
  ['empty label', (l) => (l[4] = l[4].replace(/^\d+/, '')), /:5:\d+: column 'emotion': emotion is empty/],
  ['missing column', (l) => (l[3] = l[3].replace(/,[A-Za-z]+$/, '')), /:4:\d+: column 'Usage': row has 2 columns, the header has 3/],
  ['extra column', (l) => (l[3] += ',x'), /:4:\d+: column '#4': row has 4 columns, the header has 3/],
];

for (const [name, corrupt, expected] of badRowCases) {
  test(`bad row stops the stage with file, line, column and fault: ${name}`, async () => {
    const lines = ferCsv(goodRows).trimEnd().split('\n');
    corrupt(lines);
    const err = await ingestError(lines.join('\n') + '\n');
    assert.match(err.message, /^faces\.csv:/);
    assert.match(err.message, expected);
    assert.match(err.hint ?? '', /onBadRow: skip/);
  });
}

test('the error location column points at the faulty value', async () => {
  const err = await ingestError('emotion,pixels,Usage\n1,1 2 999 4,Training\n', { shape: [2, 2, 1] });
  assert.match(err.message, new RegExp(`^faces\\.csv:2:${'1,1 2 '.length + 1}: column 'pixels'`));
});

test('onBadRow: skip leaves bad rows out and reports how many and which lines', async () => {
  const lines = ferCsv(goodRows).trimEnd().split('\n');
  lines[2] = lines[2].replace(/^\d+/, '9'); // line 3
  lines[4] = `4,1 2 3,Training`; // line 5
  const path = await tempFile('faces.csv', lines.join('\n'));
  const { result, dataset } = await ingest(path, { onBadRow: 'skip' });
  const kept = [goodRows[0], goodRows[2], goodRows[4]];
  assert.deepEqual([...dataset.labels], kept.map((r) => r.label));
  assert.deepEqual([...dataset.source], [2, 4, 6]);
  const skipped = (result.summary as Record<string, any>).skipped;
  assert.equal(skipped.count, 2);
  assert.deepEqual(
    skipped.rows.map((r: { line: number; column: string }) => [r.line, r.column]),
    [
      [3, 'emotion'],
      [5, 'pixels'],
    ],
  );
  assert.match(skipped.rows[1].message, /pixels has 3 values, expected 2304/);
});

test('skip mode with every row bad is still an error', async () => {
  const err = await ingestError('emotion,pixels,Usage\n9,1 2 3 4,Training\n', { shape: [2, 2, 1], onBadRow: 'skip' });
  assert.match(err.message, /no usable data rows \(all 1 rows were bad and skipped\)/);
});

test('empty file, plain or gzip', async () => {
  assert.match((await ingestError('')).message, /faces\.csv is empty/);
  assert.match((await ingestError(gzipSync(''), {}, 'faces.csv.gz')).message, /faces\.csv\.gz is empty/);
});

test('header without data rows', async () => {
  const err = await ingestError('emotion,pixels,Usage\n');
  assert.match(err.message, /has a header but no usable data rows/);
});

test('missing column names the columns found and the param to set', async () => {
  const err = await ingestError('label,pixels,Usage\n1,1 2 3 4,Training\n', { shape: [2, 2, 1] });
  assert.match(err.message, /faces\.csv:1: header lacks column 'emotion'/);
  assert.match(err.hint ?? '', /label, pixels, Usage/);
  assert.match(err.hint ?? '', /labelColumn/);
  const noUsage = await ingestError('emotion,pixels\n1,1 2 3 4\n', { shape: [2, 2, 1] });
  assert.match(noUsage.hint ?? '', /splitColumn: null/);
});

test('wrong delimiter: a one-column header containing ";" suggests delimiter ";"', async () => {
  const err = await ingestError('emotion;pixels;Usage\n1;1 2 3 4;Training\n', { shape: [2, 2, 1] });
  assert.match(err.message, /header lacks column 'emotion', 'pixels', 'Usage' \(delimiter ","\)/);
  assert.match(err.hint ?? '', /set delimiter: ";"/);
  const tabs = await ingestError('emotion\tpixels\tUsage\n1\t1 2 3 4\tTraining\n', { shape: [2, 2, 1] });
  assert.match(tabs.hint ?? '', /tab-separated; set delimiter: "\\t"/);
});

test('a file without a header line is recognised', async () => {
  const err = await ingestError(`3,${pixelsFor(1, FER_SIZE).join(' ')},Training\n`);
  assert.match(err.hint ?? '', /first line looks like data, not a header: add a header line such as "emotion,pixels,Usage"/);
});

test('corrupt gzip data and a missing file are clear errors', async () => {
  const gz = gzipSync(ferCsv(goodRows));
  const truncated = gz.subarray(0, gz.length >> 1);
  const err = await ingestError(truncated, {}, 'faces.csv.gz');
  assert.match(err.message, /faces\.csv\.gz: gzip data is corrupt or truncated/);
  await assert.rejects(runStage(ingestCsv, { params: { path: join(tmpdir(), 'pipe-no-such-file.csv') } }), /does not exist/);
});

test('an unclosed quote is reported with its line', async () => {
  const err = await ingestError('emotion,pixels,Usage\n1,"1 2 3 4,Training\n', { shape: [2, 2, 1] });
  assert.match(err.message, /faces\.csv:2: a quoted field starting on this line is never closed/);
});

test('a delimiter that cannot separate fields is refused', async () => {
  const err = await ingestError('emotion pixels Usage\n', { delimiter: ' ' });
  assert.match(err.message, /delimiter " " cannot separate CSV fields/);
});

test('an aborted run stops with the abort reason', async () => {
  const file = await tempFile('fer.csv', ferCsv(goodRows));
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(
    runStage(ingestCsv, { baseDir: file.dir, params: { path: file.path }, signal: controller.signal }),
    { name: 'AbortError' },
  );
});
