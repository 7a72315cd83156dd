/** Small, escaping HTML builders. Every string that reaches the page goes through `escapeHtml`. */

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes the five HTML-special characters, so `text` is safe in element content and quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => ENTITIES[ch] ?? ch);
}

/** A metric with 4 decimals (`0.8150`); `–` for a missing or non-finite value. */
export function fixed4(x: number | undefined): string {
  return x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(4);
}

/** An integer with thousands separators (`1,250,858`). */
export function integer(x: number): string {
  return x.toLocaleString('en-US');
}

/** A table cell: plain text (escaped) with an optional class (`num` right-aligns). */
export interface Cell {
  text: string;
  className?: string;
}

const cellHtml = (tag: 'td' | 'th', cell: Cell | string): string => {
  const c = typeof cell === 'string' ? { text: cell } : cell;
  const cls = c.className === undefined ? '' : ` class="${escapeHtml(c.className)}"`;
  return `<${tag}${cls}>${escapeHtml(c.text)}</${tag}>`;
};

/**
 * An HTML table: one header row of `head` (th) and one row per entry of `rows`; the first cell of
 * each body row is a row header (th). All text is escaped.
 */
export function htmlTable(head: Array<Cell | string>, rows: Array<Array<Cell | string>>, className?: string): string {
  const cls = className === undefined ? '' : ` class="${escapeHtml(className)}"`;
  const headRow = `<tr>${head.map((c) => cellHtml('th', c)).join('')}</tr>`;
  const body = rows
    .map((row) => `<tr>${row.map((c, i) => cellHtml(i === 0 ? 'th' : 'td', c)).join('')}</tr>`)
    .join('\n');
  return `<table${cls}>\n<thead>${headRow}</thead>\n<tbody>\n${body}\n</tbody>\n</table>`;
}

/** A two-column key/value table (keys as row headers), all text escaped. */
export function keyValueTable(entries: Array<[string, string]>): string {
  const body = entries.map(([k, v]) => `<tr>${cellHtml('th', k)}${cellHtml('td', v)}</tr>`).join('\n');
  return `<table class="kv">\n<tbody>\n${body}\n</tbody>\n</table>`;
}
