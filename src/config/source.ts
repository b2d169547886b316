// A parsed pipeline file that still knows where every value came from, so problems found on the plain
// JS value (by JSON path) can be reported at file:line:column with a code frame.
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import { PipeError, type SourceLocation } from '../errors.js';
import { codeFrame } from './code-frame.js';

export type JsonPath = readonly (string | number)[];

/** Where on a node a problem points: its key (unknown or misplaced keys) or its value (wrong values). */
export type Anchor = 'key' | 'value';

export class SourceFile {
  readonly doc: Document.Parsed;
  private readonly lines: LineCounter;

  constructor(
    /** The path as shown to the user in messages. */
    readonly displayPath: string,
    readonly text: string,
  ) {
    this.lines = new LineCounter();
    this.doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: true });
  }

  /** YAML syntax errors, each with its location and frame. */
  syntaxErrors(): PipeError[] {
    return this.doc.errors.map((e) => {
      const message = e.message.replace(/ at line \d+, column \d+:?[\s\S]*$/, '');
      return this.errorAtOffset(`YAML syntax: ${message}`, e.pos[0], e.pos[1], { hint: syntaxHint(e.code) });
    });
  }

  /**
   * The document as plain values. yaml refuses aliases that expand past a bound (a "billion laughs" file would
   * otherwise take all memory); that refusal becomes an error at the alias that nests others.
   */
  toValue(): unknown {
    try {
      return this.doc.toJS();
    } catch (err) {
      if (!(err instanceof ReferenceError) || !/alias/i.test(err.message)) throw err;
      const aliases: Node[] = [];
      visit(this.doc, { Alias: (_key, node) => void aliases.push(node) });
      const anchored = new Map<string, Node>();
      visit(this.doc, { Node: (_key, node) => void (node.anchor && anchored.set(node.anchor, node)) });
      const nestsAliases = (alias: Node): boolean => {
        const target = isAlias(alias) ? anchored.get(alias.source) : undefined;
        let found = false;
        if (target) visit(target, { Alias: () => ((found = true), visit.BREAK) });
        return found;
      };
      const at = aliases.find(nestsAliases) ?? aliases[0];
      const [start, , end] = at?.range ?? [0, 0, 1];
      const expansion = /excessive/i.test(err.message)
        ? 'YAML aliases here expand into too many values (an alias bomb?)'
        : `YAML: ${err.message}`;
      throw this.errorAtOffset(expansion, start, end, {
        hint: 'an alias (*name) repeats its anchored value; aliases of values that hold aliases multiply. Write the values out, or nest fewer aliases',
      });
    }
  }

  /** Location of the deepest node along `path` that exists in the file (the key or the value). */
  locate(path: JsonPath, anchor: Anchor = 'value'): { start: number; end: number } {
    let node: unknown = this.doc.contents;
    let keyNode: Node | undefined;
    let found = true;
    for (const segment of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(segment));
        if (!pair) {
          found = false;
          break;
        }
        keyNode = pair.key as Node;
        node = pair.value ?? pair.key;
      } else if (isSeq(node) && /^\d+$/.test(String(segment)) && node.items[Number(segment)]) {
        keyNode = undefined;
        node = node.items[Number(segment)];
      } else {
        found = false;
        break;
      }
    }
    // A missing node is reported at the key of its nearest parent (or the parent itself at the top);
    // so is an empty value (`stages:` with nothing after it), which has no text of its own to point at.
    const empty = isScalar(node) && node.value === null && (!node.range || node.range[0] === node.range[1]);
    const target = (found && anchor === 'value' && !empty) || !keyNode ? (node as Node | null) : keyNode;
    const range = target?.range ?? this.doc.contents?.range ?? [0, 0, 0];
    return { start: range[0], end: Math.max(range[0] + 1, range[1]) };
  }

  /** True when `path` names a node written in the file. */
  has(path: JsonPath): boolean {
    return this.doc.hasIn(path);
  }

  position(offset: number): SourceLocation {
    const { line, col } = this.lines.linePos(offset);
    return { file: this.displayPath, line, column: col };
  }

  errorAt(message: string, path: JsonPath, anchor: Anchor, options: { hint?: string } = {}): PipeError {
    const { start, end } = this.locate(path, anchor);
    return this.errorAtOffset(message, start, end, options);
  }

  errorAtOffset(message: string, start: number, end: number, options: { hint?: string } = {}): PipeError {
    const location = this.position(start);
    const endPos = this.lines.linePos(Math.max(start, end - 1));
    const width = endPos.line === location.line ? endPos.col - location.column + 1 : 1;
    return new PipeError(message, {
      location,
      frame: codeFrame(this.text, location.line, location.column, width),
      hint: options.hint,
    });
  }
}

function syntaxHint(code: string): string | undefined {
  switch (code) {
    case 'DUPLICATE_KEY':
      return 'each key may appear once in a mapping; remove or rename one of them';
    case 'TAB_AS_INDENT':
      return 'indent with spaces, not tabs';
    case 'BAD_INDENT':
    case 'MISSING_CHAR':
      return 'check the indentation and that every [ or { is closed';
    default:
      return 'fix the YAML syntax; strings with ": " or "#" in them need quotes';
  }
}
