// What people write on runs: a name and tags (`pipe run --name/--tag`) and notes (`pipe runs note`). They are shown
// in terminals, tables and the dashboard, so they are checked when given: printable, of a bounded length.
import { PipeError } from '../errors.js';

export const MAX_NAME = 120;
export const MAX_TAG = 64;
export const MAX_TAGS = 20;
export const MAX_NOTE = 2000;

// C0 and C1 controls, DEL, and the Unicode line and paragraph separators; a note may hold newlines and tabs.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const NOTE_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/;

function controlAt(text: string, pattern: RegExp): string | undefined {
  const c = pattern.exec(text)?.[0];
  return c === undefined ? undefined : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/** `--name`, checked: non-blank, one line of printable characters, at most MAX_NAME of them. */
export function checkRunName(name: string): string {
  const trimmed = name.trim();
  const hint = "a short name for the run, e.g. --name 'lr 0.002, wider conv'";
  if (!trimmed) throw new PipeError('--name is empty', { hint });
  const control = controlAt(trimmed, CONTROL);
  if (control) throw new PipeError(`--name holds a control character (${control})`, { hint: `${hint}; one line of printable characters` });
  if ([...trimmed].length > MAX_NAME) throw new PipeError(`--name is ${[...trimmed].length} characters long; at most ${MAX_NAME}`, { hint });
  return trimmed;
}

/** `--tag`s, checked and without repeats: each one word (no spaces or commas) of at most MAX_TAG characters. */
export function checkRunTags(tags: string[]): string[] {
  const hint = 'a tag is one word, e.g. --tag baseline --tag fer2013 (repeat --tag for each)';
  const out: string[] = [];
  for (const tag of tags) {
    const t = tag.trim();
    if (!t) throw new PipeError('--tag is empty', { hint });
    const control = controlAt(t, CONTROL);
    if (control) throw new PipeError(`--tag '${t.replace(CONTROL, '?')}' holds a control character (${control})`, { hint });
    if (/[\s,]/.test(t)) throw new PipeError(`--tag '${t}' holds ${/,/.test(t) ? 'a comma' : 'a space'}`, { hint });
    if ([...t].length > MAX_TAG) throw new PipeError(`--tag '${t.slice(0, 20)}…' is ${[...t].length} characters long; at most ${MAX_TAG}`, { hint });
    if (!out.includes(t)) out.push(t);
  }
  if (out.length > MAX_TAGS) throw new PipeError(`${out.length} tags; at most ${MAX_TAGS}`, { hint: 'keep the tags that you will filter on' });
  return out;
}

/** A note's text, checked: non-blank, printable (newlines and tabs allowed), at most MAX_NOTE characters. */
export function checkNote(text: string): string {
  const trimmed = text.trim();
  const hint = `pipe runs note <run-id> "what you want to remember about it"`;
  if (!trimmed) throw new PipeError('the note is empty', { hint });
  const control = controlAt(trimmed, NOTE_CONTROL);
  if (control) throw new PipeError(`the note holds a control character (${control})`, { hint });
  if ([...trimmed].length > MAX_NOTE) throw new PipeError(`the note is ${[...trimmed].length} characters long; at most ${MAX_NOTE}`, { hint });
  return trimmed;
}
