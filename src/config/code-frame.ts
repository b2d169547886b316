// A short excerpt of a file around one position, with line numbers and a caret under the column.

/**
 * @param line 1-based
 * @param column 1-based
 * @param width how many characters to underline (at least 1, clipped to the line)
 */
export function codeFrame(text: string, line: number, column: number, width = 1, context = 2): string {
  const lines = text.split(/\r?\n/);
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop(); // the file's final newline
  const first = Math.max(1, line - context);
  const last = Math.min(lines.length, line + 1);
  const gutter = String(last).length;
  const out: string[] = [];
  for (let n = first; n <= last; n++) {
    const content = (lines[n - 1] ?? '').replace(/\t/g, ' ');
    const marker = n === line ? '>' : ' ';
    out.push(`${marker} ${String(n).padStart(gutter)} | ${content}`.trimEnd());
    if (n === line) {
      const room = Math.max(1, content.length - (column - 1));
      const carets = '^'.repeat(Math.max(1, Math.min(width, room)));
      out.push(`  ${' '.repeat(gutter)} | ${' '.repeat(Math.max(0, column - 1))}${carets}`);
    }
  }
  return out.join('\n');
}
