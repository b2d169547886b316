// The byte-level CSV parser must give the same result however the file is cut into chunks (gunzip hands it
// arbitrary pieces): cut a small tricky file at every byte and in many random pieces.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CsvImageParser } from '../../src/data/csv-image-parser.js';
import type { CsvImageOptions, ParsedCsv } from '../../src/data/csv-image-parser.js';
import { createRandom } from '../../src/data/random.js';

const options: CsvImageOptions = {
  file: 'tricky.csv',
  labelColumn: 'y',
  pixelsColumn: 'px',
  splitColumn: 's',
  classes: ['a', 'b', 'c'],
  shape: [2, 2, 1],
  delimiter: ',',
  allowedSplits: null,
  onBadRow: 'skip',
};

// BOM, CRLF and LF mixed, quoted fields with "" and a newline inside, blank lines, tabs and double spaces between
// pixel values, a bad row (line 7) to skip, and no newline at the end.
const text =
  '\ufeffy,"px",s,extra\r\n' +
  '0,1 2 3 4,train,"x, ""y"""\r\n' +
  '\r\n' +
  'b,"255  0\t7 8",val,"multi\nline"\n' +
  '2,  9 10 11 12 ,train,\n' +
  '1,1 2 3 999,train,\n' +
  'c,5 6 7 8,test,last';

function parseInChunks(bytes: Buffer, cuts: number[]): ParsedCsv {
  const parser = new CsvImageParser(options);
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    parser.push(bytes.subarray(from, cut));
    from = cut;
  }
  return parser.finish();
}

function plain(r: ParsedCsv) {
  return {
    labels: [...r.labels],
    pixels: [...r.pixels],
    splits: [...r.splitCodes].map((c) => r.splitNames[c]),
    source: [...r.source],
    skipped: r.skipped.map((b) => b.line),
  };
}

const expected = {
  labels: [0, 1, 2, 2],
  pixels: [1, 2, 3, 4, 255, 0, 7, 8, 9, 10, 11, 12, 5, 6, 7, 8],
  splits: ['train', 'val', 'train', 'test'],
  source: [2, 4, 6, 8],
  skipped: [7],
};

test('whole file in one chunk', () => {
  assert.deepEqual(plain(parseInChunks(Buffer.from(text), [])), expected);
});

test('cut at every byte position', () => {
  const bytes = Buffer.from(text);
  for (let cut = 0; cut <= bytes.length; cut++) {
    assert.deepEqual(plain(parseInChunks(bytes, [cut])), expected, `cut at byte ${cut}`);
  }
});

test('one byte at a time, and random pieces', () => {
  const bytes = Buffer.from(text);
  assert.deepEqual(plain(parseInChunks(bytes, Array.from({ length: bytes.length }, (_, i) => i))), expected);
  const random = createRandom(7);
  for (let trial = 0; trial < 200; trial++) {
    const cuts = Array.from({ length: 1 + random.int(6) }, () => random.int(bytes.length)).sort((a, b) => a - b);
    assert.deepEqual(plain(parseInChunks(bytes, cuts)), expected, `cuts ${cuts.join(',')}`);
  }
});

test('the skipped row is reported with its line, column and fault', () => {
  const result = parseInChunks(Buffer.from(text), []);
  assert.deepEqual(result.skipped, [{ line: 7, column: 'px', message: 'px value 999 out of 0..255 (value 4 of 4)' }]);
});

test('arrays grow past the first allocation and keep every row', () => {
  const parser = new CsvImageParser({ ...options, splitColumn: null, onBadRow: 'error', shape: [1, 1, 1], expectedBytes: 100 });
  const rows = 5000;
  parser.push(Buffer.from('y,px\n'));
  for (let i = 0; i < rows; i++) parser.push(Buffer.from(`${i % 3},${i % 256}\n`));
  const result = parser.finish();
  assert.equal(result.rows, rows);
  assert.deepEqual([...result.pixels.subarray(250, 260)], [250, 251, 252, 253, 254, 255, 0, 1, 2, 3]);
  assert.equal(result.labels[4999], 4999 % 3);
  assert.equal(result.source[4999], 5001);
});
