// A byte-level CSV parser specialised for image datasets such as FER2013 (`emotion,pixels,Usage`), where one
// column holds a whole image as space-separated integers 0..255.
//
// Why hand-written: the full FER2013 CSV is 296 MB, 35,887 rows of ~8 KB, almost all of it pixel digits. A general
// CSV library builds a JS string per field, and the pixels then need split(' ') and Number() for each of 83 million
// values. Measured on the same 296 MB, already decompressed in memory, on a 2-core machine (Node 20, CPU seconds):
// d3-dsv's csvParse plus split/Number into a Uint8Array 7.3-8.9 s; this parser 1.2-1.7 s (a Python+numpy loader
// takes 7.3 s wall). It reads the decompressed Buffers directly, turns digit bytes into values in one pass and
// writes them into a preallocated Uint8Array, so the whole ingest is bound by gunzip (~1.2 s of zlib, which runs
// on the threadpool while this parses the previous chunk).
//
// The parser is push-based and does no I/O: feed it chunks (any split, even mid-row), then call finish().
// RFC 4180 quoting is supported (quoted fields, "" escapes, newlines inside quotes).
import { PipeError } from '../errors.js';
import { FER2013_USAGES } from './fer2013.js';

/** The most bytes one typed array (so one dataset's pixels) can hold. */
const MAX_PIXEL_BYTES = 2 ** 32;

export interface CsvImageOptions {
  /** File name used in messages. */
  file: string;
  labelColumn: string;
  pixelsColumn: string;
  /** Column whose raw values become the `split` column; null → every row gets split "all". */
  splitColumn: string | null;
  /** Class names; a label is an index into this list (or one of the names). */
  classes: string[];
  /** [height, width, channels]: pixels per row = h*w*c. */
  shape: [number, number, number];
  /** Single-character field delimiter. */
  delimiter: string;
  /** Split values accepted; null → any non-empty value. */
  allowedSplits: string[] | null;
  onBadRow: 'error' | 'skip';
  /** Uncompressed size if known (or an estimate), used to size the arrays once instead of growing them. */
  expectedBytes?: number;
  /**
   * Hand rows over in batches of this many (takeBatches) instead of holding them all: the arrays are fresh for
   * each batch, and finish() returns only the counts, with empty arrays.
   */
  batchRows?: number;
  /** Split names in code order, known ahead (the split column's codes follow it; others are still added). */
  splitNames?: string[];
}

/** Rows the parser has handed over (see CsvImageOptions.batchRows). */
export interface CsvRows {
  labels: Uint8Array;
  pixels: Uint8Array;
  splitCodes: Int8Array;
  source: Uint32Array;
}

export interface BadRow {
  line: number;
  column: string;
  message: string;
}

export interface ParsedCsv {
  labels: Uint8Array;
  pixels: Uint8Array;
  splitNames: string[];
  splitCodes: Int8Array;
  source: Uint32Array;
  rows: number;
  /** Lines read in total, header and blank lines included. */
  lines: number;
  bytes: number;
  skipped: BadRow[];
}

const NL = 10;
const CR = 13;
const QUOTE = 34;
const SPACE = 32;
const TAB = 9;

/** Result of parsing one row. */
const OK = 0;
const BAD = 1;
/** The row holds an unterminated quoted field: it continues on the next line. */
const NEED_MORE = 2;

const ROLE_SKIP = 0;
const ROLE_LABEL = 1;
const ROLE_PIXELS = 2;
const ROLE_SPLIT = 3;

/** Split names allowed by default: FER2013's three Usage values when reading a `Usage` column, else anything. */
export function defaultAllowedSplits(splitColumn: string | null): string[] | null {
  return splitColumn === 'Usage' ? FER2013_USAGES.slice() : null;
}

export class CsvImageParser {
  private readonly opts: CsvImageOptions;
  private readonly delim: number;
  private readonly size: number;
  private readonly classIndex = new Map<string, number>();
  private readonly allowed: Set<string> | null;

  // Header state.
  private header: string[] | null = null;
  private roles: Uint8Array = new Uint8Array(0);
  private pixelsField = -1;

  // Outputs, grown as needed.
  private capacity = 0;
  private labels = new Uint8Array(0);
  private pixels = new Uint8Array(0);
  private splitCodes = new Int8Array(0);
  private source = new Uint32Array(0);
  /** Rows in the arrays now; rowsBefore: rows already handed over in batches. */
  private rows = 0;
  private rowsBefore = 0;
  private readonly full: CsvRows[] = [];
  private readonly splitNames: string[] = [];
  private readonly splitCodeByName = new Map<string, number>();

  // Position.
  private line = 0;
  private bytes = 0;
  /** Bytes of the data rows parsed so far, for the size estimate. */
  private rowBytes = 0;
  private pending: Buffer | null = null;
  private readonly skipped: BadRow[] = [];

  // Fault of the row being parsed (set when a field returns BAD).
  private faultMessage = '';
  private faultField = 0;
  private faultOffset = 0;
  /** Extra advice for the fault, when there is a likelier fix than editing the row. */
  private faultHint = '';

  constructor(opts: CsvImageOptions) {
    this.opts = opts;
    const d = opts.delimiter;
    if (d.length !== 1 || d.charCodeAt(0) > 127) {
      throw new PipeError(`delimiter must be one ASCII character, got ${JSON.stringify(d)}`, {
        hint: "use e.g. delimiter: ',' or ';' or '\\t'",
      });
    }
    this.delim = d.charCodeAt(0);
    if (this.delim === QUOTE || this.delim === NL || this.delim === CR || this.delim === SPACE || (this.delim >= 48 && this.delim <= 57)) {
      throw new PipeError(`delimiter ${JSON.stringify(d)} cannot separate CSV fields (it appears inside values or quotes)`, {
        hint: "use e.g. delimiter: ',' or ';' or '\\t'",
      });
    }
    const [h, w, c] = opts.shape;
    this.size = h * w * c;
    if (!(this.size > 0)) throw new PipeError(`shape ${JSON.stringify(opts.shape)} must have positive sizes`);
    if (opts.classes.length === 0 || opts.classes.length > 256) {
      throw new PipeError(`classes must list 1..256 names, got ${opts.classes.length}`);
    }
    opts.classes.forEach((name, i) => this.classIndex.set(name, i));
    this.allowed = opts.allowedSplits ? new Set(opts.allowedSplits) : null;
    if (opts.splitColumn === null) this.splitCode('all');
    for (const name of opts.splitNames ?? []) this.splitCode(name);
  }

  /** The full batches made since the last call (with batchRows), oldest first. */
  takeBatches(): CsvRows[] {
    return this.full.splice(0);
  }

  /** Feed the next chunk of the file (already decompressed). */
  push(chunk: Buffer): void {
    this.bytes += chunk.length;
    let from = 0;
    if (this.pending) {
      // Complete the row left over from the previous chunk with this chunk's bytes up to a newline; copy only those.
      let nl = chunk.indexOf(NL);
      for (;;) {
        if (nl < 0) {
          this.pending = Buffer.concat([this.pending, chunk.subarray(from)]);
          return;
        }
        const head = Buffer.concat([this.pending, chunk.subarray(from, nl + 1)]);
        const used = this.consume(head, 0, false);
        from = nl + 1;
        if (used === head.length) {
          this.pending = null;
          break;
        }
        // A quoted field spans lines: keep what is left and extend to the next newline.
        this.pending = head.subarray(used);
        nl = chunk.indexOf(NL, from);
      }
    }
    const used = this.consume(chunk, from, false);
    if (used < chunk.length) this.pending = Buffer.from(chunk.subarray(used));
  }

  /** Parse the last line (if it lacks a newline), check the file was not empty, and return the columns. */
  finish(): ParsedCsv {
    if (this.pending && this.pending.length > 0) {
      const used = this.consume(this.pending, 0, true);
      if (used < this.pending.length) {
        throw new PipeError(`${this.opts.file}:${this.line + 1}: a quoted field starting on this line is never closed`, {
          hint: 'close the quote ("), or remove the stray quote character',
        });
      }
      this.pending = null;
    }
    if (this.bytes === 0 || this.header === null) {
      throw new PipeError(`${this.opts.file} is empty`, {
        hint: `point path at a CSV file with a header line (e.g. ${this.expectedHeader()}) and one row per image`,
      });
    }
    if (this.opts.batchRows && this.rows > 0) this.handOver();
    const total = this.rowsBefore + this.rows;
    if (total === 0) {
      const why = this.skipped.length > 0 ? ` (all ${this.skipped.length} rows were bad and skipped)` : '';
      throw new PipeError(`${this.opts.file} has a header but no usable data rows${why}`, {
        hint: 'add rows after the header line',
      });
    }
    const n = this.rows;
    return {
      labels: this.labels.subarray(0, n),
      pixels: this.pixels.subarray(0, n * this.size),
      splitNames: this.splitNames.slice(),
      splitCodes: this.splitCodes.subarray(0, n),
      source: this.source.subarray(0, n),
      rows: total,
      lines: this.line,
      bytes: this.bytes,
      skipped: this.skipped.slice(),
    };
  }

  get rowsSoFar(): number {
    return this.rowsBefore + this.rows;
  }

  get skippedSoFar(): number {
    return this.skipped.length;
  }

  /** Parse the complete lines of buf from `from`; return the offset of the first byte not consumed. */
  private consume(buf: Buffer, from: number, final: boolean): number {
    let start = from;
    const len = buf.length;
    while (start < len) {
      let nl = buf.indexOf(NL, start);
      if (nl < 0) {
        if (!final) return start;
        nl = len;
      }
      let extraLines = 0;
      for (;;) {
        let end = nl;
        if (end > start && buf[end - 1] === CR) end--;
        const status = this.header === null ? this.parseHeader(buf, start, end) : this.parseRow(buf, start, end);
        if (status !== NEED_MORE) break;
        if (nl >= len) return start;
        const next = buf.indexOf(NL, nl + 1);
        extraLines++;
        if (next < 0) {
          if (!final) return start;
          nl = len;
        } else nl = next;
      }
      this.line += 1 + extraLines;
      start = nl + 1;
    }
    return Math.min(start, len);
  }

  private expectedHeader(): string {
    const cols = [this.opts.labelColumn, this.opts.pixelsColumn];
    if (this.opts.splitColumn) cols.push(this.opts.splitColumn);
    return cols.join(this.opts.delimiter);
  }

  private parseHeader(buf: Buffer, start: number, end: number): number {
    // Strip a UTF-8 byte order mark.
    if (end - start >= 3 && buf[start] === 0xef && buf[start + 1] === 0xbb && buf[start + 2] === 0xbf) start += 3;
    if (start === end) {
      // Leading blank lines are allowed; the header is the first non-blank line.
      return OK;
    }
    const fields = splitLine(buf.toString('utf8', start, end), this.opts.delimiter);
    if (fields === null) return NEED_MORE;
    const header = fields.map((f) => f.trim());
    const file = this.opts.file;
    const line = this.line + 1;
    const wanted: Array<[string, string]> = [
      ['labelColumn', this.opts.labelColumn],
      ['pixelsColumn', this.opts.pixelsColumn],
    ];
    if (this.opts.splitColumn !== null) wanted.push(['splitColumn', this.opts.splitColumn]);
    const missing = wanted.filter(([, name]) => !header.includes(name));
    if (missing.length > 0) {
      const names = missing.map(([, n]) => `'${n}'`).join(', ');
      const shown = header.length > 8 ? `${header.slice(0, 8).join(', ')}, …` : header.join(', ');
      let hint: string;
      const other = header.length === 1 ? guessDelimiter(header[0], this.opts.delimiter) : null;
      if (other) {
        hint = `the header has one column that contains ${JSON.stringify(other)}: the file looks ${other === '\t' ? 'tab' : `'${other}'`}-separated; set delimiter: ${JSON.stringify(other)}`;
      } else if (/^\s*\d+\s*$/.test(header[0] ?? '') || (header.length >= 2 && /^[\d ]{20,}$/.test(header[1]))) {
        hint = `the first line looks like data, not a header: add a header line such as "${this.expectedHeader()}" at the top`;
      } else {
        hint = `the header has: ${shown}. Set ${missing.map(([p]) => p).join(' / ')} to the right column name${
          missing.some(([p]) => p === 'splitColumn') ? ', or splitColumn: null when the file has no split column' : ''
        }`;
      }
      throw new PipeError(`${file}:${line}: header lacks column ${names} (delimiter ${JSON.stringify(this.opts.delimiter)})`, {
        hint,
      });
    }
    const dup = header.find((h, i) => wanted.some(([, n]) => n === h) && header.indexOf(h) !== i);
    if (dup) {
      throw new PipeError(`${file}:${line}: header names column '${dup}' twice`);
    }
    this.header = header;
    this.roles = new Uint8Array(header.length);
    this.roles[header.indexOf(this.opts.labelColumn)] = ROLE_LABEL;
    this.pixelsField = header.indexOf(this.opts.pixelsColumn);
    this.roles[this.pixelsField] = ROLE_PIXELS;
    if (this.opts.splitColumn !== null) this.roles[header.indexOf(this.opts.splitColumn)] = ROLE_SPLIT;
    return OK;
  }

  private ensureCapacity(): void {
    if (this.rows < this.capacity) return;
    // A typed array holds at most 2^32 bytes, and a later stage reads the whole dataset into one: say so.
    const most = Math.floor(MAX_PIXEL_BYTES / this.size);
    if (this.rowsBefore + this.rows >= most) {
      throw new PipeError(`${this.opts.file} has more than ${most.toLocaleString('en-US')} images of ${this.size} pixels: more than one dataset can hold in memory (4 GiB of pixels)`, {
        hint: 'split the CSV into several files, or use smaller images',
      });
    }
    const batchRows = this.opts.batchRows;
    if (batchRows) {
      if (this.rows > 0) this.handOver();
      this.allocate(batchRows);
      return;
    }
    // Start with ~16 MB of pixels, then double; once rows are seen and the file size is known, jump to the
    // size estimated from the average row length (+3%) so a large file is copied at most once or twice.
    let next = this.capacity === 0 ? Math.max(16, Math.min(1024, Math.floor(16e6 / this.size))) : this.capacity * 2;
    const expected = this.opts.expectedBytes;
    if (expected && this.rows >= 16) {
      const estimate = Math.ceil((expected / this.rowBytes) * this.rows * 1.03) + 16;
      if (estimate > next) next = estimate;
    }
    next = Math.min(next, most);
    const grow = <T extends Uint8Array | Int8Array | Uint32Array>(old: T, make: (n: number) => T, per: number): T => {
      const fresh = make(next * per);
      fresh.set(old.subarray(0, this.rows * per));
      return fresh;
    };
    this.labels = grow(this.labels, (n) => new Uint8Array(n), 1);
    this.pixels = grow(this.pixels, (n) => new Uint8Array(n), this.size);
    this.splitCodes = grow(this.splitCodes, (n) => new Int8Array(n), 1);
    this.source = grow(this.source, (n) => new Uint32Array(n), 1);
    this.capacity = next;
  }

  /** Moves the rows parsed so far into a batch for takeBatches. */
  private handOver(): void {
    const n = this.rows;
    this.full.push({
      labels: this.labels.subarray(0, n),
      pixels: this.pixels.subarray(0, n * this.size),
      splitCodes: this.splitCodes.subarray(0, n),
      source: this.source.subarray(0, n),
    });
    this.rowsBefore += n;
    this.allocate(0);
  }

  private allocate(rows: number): void {
    this.labels = new Uint8Array(rows);
    this.pixels = new Uint8Array(rows * this.size);
    this.splitCodes = new Int8Array(rows);
    this.source = new Uint32Array(rows);
    this.rows = 0;
    this.capacity = rows;
  }

  private splitCode(name: string): number {
    let code = this.splitCodeByName.get(name);
    if (code === undefined) {
      if (this.splitNames.length >= 127) return -1;
      code = this.splitNames.push(name) - 1;
      this.splitCodeByName.set(name, code);
    }
    return code;
  }

  /** Parse one data row (bytes start..end, newline excluded) into the output arrays. */
  private parseRow(buf: Buffer, start: number, end: number): number {
    if (start === end) return OK; // blank line
    this.ensureCapacity();
    this.rowBytes += end - start + 1;
    const header = this.header as string[];
    const ncols = header.length;
    const row = this.rows;
    let label = -1;
    let split = this.opts.splitColumn === null ? 0 : -1;
    let pos = start;
    let field = 0;
    let status = OK;
    for (;;) {
      if (field >= ncols) {
        // Count the remaining fields for the message.
        let extra = 1;
        for (let i = pos; i < end; i++) if (buf[i] === this.delim) extra++;
        status = this.fault(field, pos - start, `row has ${ncols + extra} columns, the header has ${ncols}`);
        break;
      }
      const role = this.roles[field];
      const fieldStart = pos;
      let stop: number; // index of the delimiter after the field, or end
      if (pos < end && buf[pos] === QUOTE) {
        // Quoted field: find the closing quote ("" is an escaped quote).
        let q = pos + 1;
        for (;;) {
          while (q < end && buf[q] !== QUOTE) q++;
          if (q >= end) return NEED_MORE;
          if (q + 1 < end && buf[q + 1] === QUOTE) q += 2;
          else break;
        }
        stop = q + 1;
        if (stop < end && buf[stop] !== this.delim) {
          status = this.fault(field, stop - start, `unexpected character after the closing quote of ${header[field]}`);
          break;
        }
        if (role === ROLE_PIXELS) {
          const r = this.parsePixels(buf, pos + 1, q, row, field, start);
          if (r < 0) {
            status = BAD;
            break;
          }
        } else if (role !== ROLE_SKIP) {
          const text = buf.toString('utf8', pos + 1, q).replaceAll('""', '"');
          if (role === ROLE_LABEL) label = this.labelOf(text, field, fieldStart - start);
          else split = this.splitOf(text, field, fieldStart - start);
          if (label === -2 || split === -2) {
            status = BAD;
            break;
          }
        }
      } else if (role === ROLE_PIXELS) {
        stop = this.parsePixels(buf, pos, end, row, field, start);
        if (stop < 0) {
          status = BAD;
          break;
        }
      } else {
        stop = pos;
        const d = this.delim;
        while (stop < end && buf[stop] !== d) stop++;
        if (role === ROLE_LABEL) {
          label = this.labelOf(buf.toString('utf8', pos, stop), field, fieldStart - start);
          if (label === -2) {
            status = BAD;
            break;
          }
        } else if (role === ROLE_SPLIT) {
          split = this.splitOf(buf.toString('utf8', pos, stop), field, fieldStart - start);
          if (split === -2) {
            status = BAD;
            break;
          }
        }
      }
      if (stop >= end) break;
      pos = stop + 1;
      field++;
    }
    if (status === OK && field + 1 < ncols) {
      status = this.fault(field + 1, end - start, `row has ${field + 1} column${field === 0 ? '' : 's'}, the header has ${ncols}`);
    }
    if (status !== OK) return this.reject();
    this.labels[row] = label;
    this.splitCodes[row] = split;
    this.source[row] = this.line + 1;
    this.rows = row + 1;
    return OK;
  }

  /**
   * Parse space-separated integers 0..255 from buf[pos..] up to the delimiter or `end` into row `row`'s pixels.
   * Returns the index where it stopped (delimiter or end), or -1 after recording a fault. The hot loop of the ingest.
   */
  private parsePixels(buf: Buffer, pos: number, end: number, row: number, field: number, lineStart: number): number {
    const out = this.pixels;
    const size = this.size;
    const base = row * size;
    const d = this.delim;
    let count = 0;
    let valueStart = pos;
    let i = pos;
    // One value per outer iteration; the inner loop eats its digits. Faster than a per-byte state machine
    // because the branches follow the data's shape (digits, one space, digits...).
    while (i < end) {
      let digit = buf[i] - 48;
      if (digit >>> 0 < 10) {
        valueStart = i;
        let v = digit;
        i++;
        while (i < end && (digit = buf[i] - 48) >>> 0 < 10) {
          v = v * 10 + digit;
          i++;
        }
        if (v > 255) return this.badValue(buf, valueStart, i, count, field, lineStart);
        if (count < size) out[base + count] = v;
        count++;
        continue;
      }
      const c = digit + 48;
      if (c === SPACE || c === TAB) {
        i++;
        continue;
      }
      if (c === d) break;
      // A bad byte right after digits belongs to the value just read ("1.5"), else to the next one ("-4").
      const valueNumber = i > pos && buf[i - 1] - 48 >= 0 && buf[i - 1] - 48 <= 9 ? count : count + 1;
      const shown = c >= 33 && c <= 126 ? `'${String.fromCharCode(c)}'` : `byte 0x${c.toString(16).padStart(2, '0')}`;
      this.fault(
        field,
        i - lineStart,
        `${this.opts.pixelsColumn} has invalid character ${shown} in value ${valueNumber}; expected integers 0..255 separated by spaces`,
      );
      return -1;
    }
    if (count !== size) {
      const [h, w, ch] = this.opts.shape;
      this.fault(field, pos - lineStart, `${this.opts.pixelsColumn} has ${count} values, expected ${size} (${h}x${w}x${ch})`);
      return -1;
    }
    return i;
  }

  private badValue(buf: Buffer, from: number, to: number, index: number, field: number, lineStart: number): number {
    const text = buf.toString('latin1', from, to);
    this.fault(field, from - lineStart, `${this.opts.pixelsColumn} value ${text} out of 0..255 (value ${index + 1} of ${this.size})`);
    return -1;
  }

  /** Class index of a label field, or -2 after recording a fault. */
  private labelOf(raw: string, field: number, offset: number): number {
    const text = raw.trim();
    const name = this.opts.labelColumn;
    const classes = this.opts.classes;
    if (text === '') {
      this.fault(field, offset, `${name} is empty`);
      return -2;
    }
    if (/^\d+$/.test(text)) {
      const k = Number(text);
      if (k < classes.length) return k;
      this.fault(field, offset, `${name} ${text} is not a class (expected 0..${classes.length - 1}: ${listClasses(classes)})`);
      return -2;
    }
    const k = this.classIndex.get(text);
    if (k !== undefined) return k;
    this.fault(field, offset, `${name} '${text}' is not a class (expected 0..${classes.length - 1} or a name: ${listClasses(classes)})`);
    return -2;
  }

  /** Split code of a split field, or -2 after recording a fault. */
  private splitOf(raw: string, field: number, offset: number): number {
    const text = raw.trim();
    const name = this.opts.splitColumn as string;
    if (text === '') {
      this.fault(field, offset, `${name} is empty`);
      return -2;
    }
    if (this.allowed && !this.allowed.has(text)) {
      this.fault(field, offset, `unknown ${name} '${text}' (allowed: ${[...this.allowed].join(', ')})`);
      this.faultHint = `if '${text}' is a real split name, list it in allowedSplits (or set allowedSplits: null to accept any value); otherwise `;
      return -2;
    }
    const code = this.splitCode(text);
    if (code < 0) {
      this.fault(field, offset, `${name} has more than 127 distinct values; '${text}' is one too many`);
      return -2;
    }
    return code;
  }

  private fault(field: number, offset: number, message: string): number {
    this.faultField = field;
    this.faultOffset = offset;
    this.faultMessage = message;
    this.faultHint = '';
    return BAD;
  }

  /** A bad row: stop with its location, or remember it and skip it. */
  private reject(): number {
    const header = this.header as string[];
    const line = this.line + 1;
    const column = header[this.faultField] ?? `#${this.faultField + 1}`;
    if (this.opts.onBadRow === 'skip') {
      this.skipped.push({ line, column, message: this.faultMessage });
      return OK;
    }
    // file:line:column lead the message itself (no `location`, whose printed prefix would repeat them), so the
    // position shows wherever the message does; the column is the byte of the fault within the line.
    throw new PipeError(`${this.opts.file}:${line}:${this.faultOffset + 1}: column '${column}': ${this.faultMessage}`, {
      hint: `${this.faultHint}fix or remove that row, or set onBadRow: skip to leave bad rows out (they are listed in the stage summary)`,
    });
  }
}

function listClasses(classes: string[]): string {
  const shown = classes.slice(0, 10).map((c, i) => `${i} ${c}`);
  return shown.join(', ') + (classes.length > 10 ? ', …' : '');
}

/** Split one header line on the delimiter, honouring quotes; null when a quoted field is not closed. */
export function splitLine(text: string, delimiter: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (text[i] === '"') {
      let value = '';
      let j = i + 1;
      for (;;) {
        const q = text.indexOf('"', j);
        if (q < 0) return null;
        value += text.slice(j, q);
        if (text[q + 1] === '"') {
          value += '"';
          j = q + 2;
        } else {
          j = q + 1;
          break;
        }
      }
      out.push(value);
      const d = text.indexOf(delimiter, j);
      if (d < 0) return out;
      i = d + 1;
    } else {
      const d = text.indexOf(delimiter, i);
      if (d < 0) {
        out.push(text.slice(i));
        return out;
      }
      out.push(text.slice(i, d));
      i = d + 1;
    }
  }
}

/** When a one-column header contains another usual delimiter, return it. */
function guessDelimiter(header: string, current: string): string | null {
  for (const d of [',', ';', '\t', '|']) if (d !== current && header.includes(d)) return d;
  return null;
}
