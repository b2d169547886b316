// Everything a report shows that came from data (class names, stage ids, params, file names) passes through here.

const HTML_ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text safe inside HTML element content and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => HTML_ENTITIES[c]);
}

/**
 * Text safe inside one GitHub-flavoured Markdown table cell: HTML is neutralised as entities, inline Markdown syntax
 * (emphasis, code, links, strikethrough) is backslash-escaped, `|` cannot end the cell and line breaks cannot end the row.
 */
export function escapeMarkdown(value: unknown): string {
  return String(value)
    .replace(/[&<>]/g, (c) => HTML_ENTITIES[c])
    .replace(/[\\`*_[\]|~]/g, (c) => `\\${c}`)
    .replace(/\r?\n/g, ' ');
}
