import { describe, expect, it } from 'vitest';
import { escapeHtml, fixed4, htmlTable, keyValueTable } from './html.js';

describe('html builders', () => {
  it('escapes the five special characters (known answer)', () => {
    expect(escapeHtml(`<a href="x">Tom & Jerry's</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;');
    expect(escapeHtml('plain')).toBe('plain');
  });

  it('formats metrics with 4 decimals and a dash for missing values', () => {
    expect([fixed4(0.81499), fixed4(1), fixed4(undefined), fixed4(Number.NaN)]).toEqual(['0.8150', '1.0000', '–', '–']);
  });

  it('builds tables with escaped cells and row headers', () => {
    expect(htmlTable(['a<', { text: 'b', className: 'num' }], [['x&', { text: '1', className: 'num' }]])).toBe(
      '<table>\n<thead><tr><th>a&lt;</th><th class="num">b</th></tr></thead>\n<tbody>\n' +
        '<tr><th>x&amp;</th><td class="num">1</td></tr>\n</tbody>\n</table>',
    );
    expect(keyValueTable([['k"', 'v>']])).toBe('<table class="kv">\n<tbody>\n<tr><th>k&quot;</th><td>v&gt;</td></tr>\n</tbody>\n</table>');
  });
});
