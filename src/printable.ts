// Text from pipelines and data (a pipeline's name, class names, file names) can hold terminal control characters:
// written raw, ESC sequences recolour, move the cursor or retitle the user's terminal. Everything of that kind the
// CLI prints goes through `printable`, which shows control characters as visible escapes instead.

// C0 controls but tab and newline, DEL, C1 controls, and the Unicode line and paragraph separators.
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/g;
const CONTROL_OR_NEWLINE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029]/g;

const escape = (c: string) => {
  const code = c.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
};

/** `text` with control characters written as \xNN; tabs and newlines stay unless `singleLine`. */
export function printable(text: string, options: { singleLine?: boolean } = {}): string {
  return text.replace(options.singleLine ? CONTROL_OR_NEWLINE : CONTROL, escape);
}
