// A tiny HTML builder whose default is safe: plain strings are escaped; only values wrapped by `raw()` (markup this
// module's callers built from escaped parts, or SVG rendered by Vega from escaped data) pass through unchanged.
import { escapeHtml } from './escape.js';

export interface Raw {
  readonly html: string;
}

export type Content = string | number | Raw | undefined | null | false | Content[];

export function raw(html: string): Raw {
  return { html };
}

export function render(content: Content): string {
  if (content === undefined || content === null || content === false) return '';
  if (Array.isArray(content)) return content.map(render).join('');
  if (typeof content === 'object') return content.html;
  return escapeHtml(content);
}

/** An element with escaped attribute values and rendered children. */
export function h(tag: string, attrs: Record<string, string | number | undefined> = {}, ...children: Content[]): Raw {
  const attrText = Object.entries(attrs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${escapeHtml(v)}"`)
    .join('');
  return raw(`<${tag}${attrText}>${children.map(render).join('')}</${tag}>`);
}

export interface Column {
  title: string;
  numeric?: boolean;
  className?: string;
}

export function table(columns: (Column | string)[], rows: Content[][], attrs: Record<string, string> = {}): Raw {
  const cols = columns.map((c) => (typeof c === 'string' ? { title: c } : c));
  const cls = (c: Column) => [c.numeric ? 'num' : '', c.className ?? ''].filter(Boolean).join(' ') || undefined;
  return h(
    'div',
    { class: 'wide' },
    h(
      'table',
      attrs,
      h('thead', {}, h('tr', {}, cols.map((c) => h('th', { class: cls(c), scope: 'col' }, c.title)))),
      h('tbody', {}, rows.map((row) => h('tr', {}, row.map((cell, i) => h('td', { class: cols[i] ? cls(cols[i]) : undefined }, cell))))),
    ),
  );
}
