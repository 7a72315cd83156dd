import { REFERENCE } from '@cifar-dist/training';
import { beforeAll, describe, expect, it } from 'vitest';
import { escapeHtml } from './html.js';
import { renderReportHtml } from './render-report.js';
import { fixtureReport, NAMES3, NAMES4, NASTY_NAME } from './test-fixtures.js';

/** The `<svg …>…</svg>` fragments of a page, in order. */
const svgs = (html: string): string[] => html.match(/<svg\b[\s\S]*?<\/svg>/g) ?? [];

const ENTITIES: Record<string, string> = { '&lt;': '<', '&gt;': '>', '&amp;': '&', '&quot;': '"', '&#39;': "'" };

/** The contents of an SVG's <text> elements, entities decoded. */
const svgTexts = (svg: string): string[] =>
  [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => (m[1] ?? '').replace(/&(?:lt|gt|amp|quot|#39);/g, (e) => ENTITIES[e] ?? e));

describe('renderReportHtml', () => {
  let html = '';
  beforeAll(async () => {
    html = await renderReportHtml(fixtureReport());
  });

  it('is one offline page: no external src/href/url(), no scripts, links or imports, a CSP that forbids loads', () => {
    expect(html.startsWith('<!doctype html>\n<html lang="en">')).toBe(true);
    expect(html).not.toMatch(/\b(?:src|href|xlink:href)\s*=\s*["']?\s*(?:https?:)?\/\//i);
    expect(html).not.toMatch(/url\(\s*["']?\s*(?:https?:)?\/\//i);
    expect(html).not.toMatch(/<(?:script|link|iframe|img|object|embed)\b/i);
    expect(html).not.toMatch(/@import/i);
    expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'"`);
  });

  it('inlines exactly one <svg> per chart: loss, accuracy and confusion matrix per phase', () => {
    const charts = svgs(html);
    expect(charts).toHaveLength(6);
    expect((html.match(/<svg\b/g) ?? []).length).toBe(6);
    expect(charts.map((s) => s.match(/<text[^>]*>([^<]*(?:loss|accuracy|confusion)[^<]*)<\/text>/)?.[1])).toEqual([
      'cifar10: loss per epoch',
      'cifar10: accuracy per epoch',
      'cifar10: test confusion matrix',
      'finetune: loss per epoch',
      'finetune: accuracy per epoch',
      'finetune: test confusion matrix',
    ]);
  });

  it('shows the counts of the confusion matrix as text in the heatmap', () => {
    const heatmap = svgs(html)[2]!;
    // every count of CM3 (5,1,0,2,6,2,0,0,4) is a text mark: 9 cells
    const counts = svgTexts(heatmap).filter((t) => /^\d+$/.test(t));
    expect([...counts].sort()).toEqual(['0', '0', '0', '1', '2', '2', '4', '5', '6']);
  });

  it('names every class (escaped) in the table and on both axes of the heatmap', () => {
    for (const [i, names] of [NAMES3, NAMES4].entries()) {
      const heatmap = svgs(html)[3 * i + 2]!;
      for (const name of names) {
        expect(html).toContain(`<th>${escapeHtml(name)}</th>`);
        expect(svgTexts(heatmap).filter((t) => t === name), name).toHaveLength(2);
      }
    }
    expect(html).not.toContain(NASTY_NAME);
    expect(html).not.toContain('<b>');
    expect(html).toContain('host&lt;1&gt;');
  });

  it('compares with the reference: 0.6789 test accuracy beside ours', () => {
    expect(REFERENCE.cifar10.test.accuracy).toBe(0.6789);
    const cifar10 = html.slice(html.indexOf('id="phase-cifar10"'), html.indexOf('id="phase-finetune"'));
    // ours: trace(CM3)/n = 15/20; reference as published
    expect(cifar10).toContain(
      '<tr><th>accuracy</th><td class="num">0.7500</td><td class="num">0.6789</td><td class="num">0.7500</td><td class="num">0.70837</td></tr>',
    );
    expect(cifar10).toContain('<td class="num">0.7500</td><td class="num">0.91403</td><td class="num">0.5000</td><td class="num">0.84357</td>');
    const finetune = html.slice(html.indexOf('id="phase-finetune"'));
    expect(finetune).toContain('<td class="num">0.72769</td>');
  });

  it('has the per-class table with known figures, macro and weighted averages', () => {
    // class 0 of CM3: precision 5/7, recall 5/6, f1 10/13, support 6
    expect(html).toContain('<tr><th>airplane</th><td class="num">0.7143</td><td class="num">0.8333</td><td class="num">0.7692</td><td class="num">6</td></tr>');
    // macro precision of CM3: (5/7 + 6/7 + 4/6) / 3 = 0.74603…; macro recall (5/6 + 6/10 + 4/4) / 3 = 0.81111…
    expect(html).toMatch(/<tr><th>macro avg<\/th><td class="num">0\.7460<\/td><td class="num">0\.8111<\/td>/);
    expect(html).toContain('<tr><th>weighted avg</th>');
  });

  it('has the header: times, duration, backend, workers and key config', () => {
    expect(html).toContain('<tr><th>started</th><td>2026-01-02T03:04:05.000Z</td></tr>');
    expect(html).toContain('<tr><th>duration</th><td>1 h 1 min 1 s</td></tr>');
    expect(html).toContain('<tr><th>seed</th><td>1234</td></tr>');
    expect(html).toContain('<tr><th>global batch</th><td>128</td></tr>');
    expect(html).toContain('<tr><th>peak learning rate</th><td>0.05 (fine-tune 0.02), cosine decay</td></tr>');
    expect(html).toMatch(/<tr><th>workers<\/th><td>2 — w0: wasm/);
    expect(html).toContain("w1: webgpu, NVIDIA H200, adapter 1: nvidia hopper, driver &#39;NVIDIA 570.86.15&#39; (host&lt;1&gt;, pid 102)");
  });

  it('gives every element id once, across all inlined charts', () => {
    const ids = [...html.matchAll(/\bid="([^"]*)"/g)].map((m) => m[1]);
    expect(ids.length).toBeGreaterThan(2);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('renderReportHtml of a run on part of the data', () => {
  it('says --train-limit/--test-limit in a banner, in the header and beside each reference comparison', async () => {
    const report = fixtureReport();
    report.config = { ...report.config, trainLimit: 5000, testLimit: 1000 };
    const html = await renderReportHtml(report);
    const limits = '--train-limit 5000 (the first 5,000 training records of each file set), --test-limit 1000 (the first 1,000 test records of each file set)';
    expect(html).toContain(
      `<p class="subset" id="data-subset"><strong>Part of the data:</strong> this run used ${limits}. ` +
        'Its figures are not comparable with the reference&#39;s, which trained and tested on the full sets.</p>',
    );
    expect(html.indexOf('id="data-subset"')).toBeLessThan(html.indexOf('<table class="kv">'));
    expect(html).toContain(`<tr><th>data</th><td>${limits}</td></tr>`);
    // each phase: the note right under "Ours vs reference", with the phase's own test-set size (CM3: 20, CM4: 20)
    for (const name of ['cifar10', 'finetune']) {
      const section = html.slice(html.indexOf(`id="phase-${name}"`));
      expect(section).toContain(
        `<h3>Ours vs reference</h3>\n<p class="note subset">Not like for like: ours used ${limits}, and its test figures are over 20 test images; ` +
          'the reference&#39;s are over the full training and test sets.</p><table class="reference">',
      );
    }
  });

  it('says that a --holdout run was evaluated on the held-out split, not the test set', async () => {
    const report = fixtureReport();
    report.config = { ...report.config, holdout: 0.2 };
    const html = await renderReportHtml(report);
    expect(html).toContain(
      '<tr><th>data</th><td>--holdout 0.2 (trained on the first 80% of each class of the training set; every &quot;test&quot; figure is on the held-out rest, and the test sets were not read)</td></tr>',
    );
    expect(html).toContain('id="data-subset"');
  });

  it('names only the limit that was given', async () => {
    const report = fixtureReport();
    report.config = { ...report.config, testLimit: 2000 };
    const html = await renderReportHtml(report);
    expect(html).toContain('<tr><th>data</th><td>--test-limit 2000 (the first 2,000 test records of each file set)</td></tr>');
    expect(html).not.toContain('--train-limit');
  });

  it('says "full training and test sets" and shows no banner or note for a full run', async () => {
    const html = await renderReportHtml(fixtureReport());
    expect(html).toContain('<tr><th>data</th><td>full training and test sets</td></tr>');
    expect(html).not.toContain('Part of the data');
    expect(html).not.toContain('Not like for like');
    expect(html).not.toContain('-limit');
  });
});

describe('renderReportHtml of a fine-tune with the logit adjustment', () => {
  const note = (html: string): string => html.slice(html.indexOf('id="phase-finetune"')).match(/<h3>Learning curves<\/h3>\n<p class="note">([^<]*)<\/p>/)?.[1] ?? '';

  it('says the per-epoch test figures include the adjustment and draws the figures before it as their own series', async () => {
    const report = fixtureReport();
    const finetune = report.phases[1]!;
    finetune.history = finetune.history.map((h, i) => ({ ...h, testLossUnadjusted: 0.95 + i / 100, testAccuracyUnadjusted: 0.66 + i / 100 }));
    // tau 0 and no class bias: the adjustment restores the natural prior (ln k)
    report.config = { ...report.config, finetuneLogitTau: 0, finetuneClassBias: {} };
    const html = await renderReportHtml(report);
    expect(note(html)).toBe(
      'train = mean over the epoch&#39;s training batches (augmented, dropout on); test = the test set after the epoch, taken with the logit ' +
        'adjustment applied (the added classes&#39; output bias lowered by ln 4), as the final figures above are; ' +
        'test before logit adjustment = the same test set with the output bias as trained.',
    );
    report.config = { ...report.config, finetuneLogitTau: 0.7 };
    expect(note(await renderReportHtml(report))).toContain(
      'taken with the logit adjustment applied (tau 0.7: the output bias shifted from the oversampled prior to the natural prior to the power 0.3), as the final',
    );
    report.config = { ...report.config, finetuneClassBias: { snail: 0.9, worm: -0.25 } };
    expect(note(await renderReportHtml(report))).toContain(
      'applied (tau 0.7: the output bias shifted from the oversampled prior to the natural prior to the power 0.3, then a class bias added to the output bias: +0.9 for snail, -0.25 for worm), as the final',
    );
    // no oversampling and tau 0: the bias is the whole adjustment
    report.config = { ...report.config, finetuneOversample: 1, finetuneLogitTau: 0, finetuneClassBias: { snail: 0.5 } };
    expect(note(await renderReportHtml(report))).toContain('applied (a class bias added to the output bias: +0.5 for snail), as the final');
    const [loss, accuracy] = svgs(html).slice(3, 5);
    for (const chart of [loss!, accuracy!]) expect(svgTexts(chart)).toEqual(expect.arrayContaining(['train', 'test', 'test before logit adjustment']));
    // one point per epoch and split: 2 epochs × 3 splits
    expect((accuracy!.match(/aria-roledescription="point"/g) ?? []).length).toBe(6);
    // the cifar10 phase keeps its two splits
    expect(svgTexts(svgs(html)[1]!)).not.toContain('test before logit adjustment');
  });

  it('says that an older report\'s per-epoch fine-tune figures were taken before the adjustment', async () => {
    const html = await renderReportHtml(fixtureReport());
    expect(note(html)).toBe(
      'train = mean over the epoch&#39;s training batches (augmented, dropout on); test = the test set after the epoch, taken with the ' +
        'output bias as trained: before the logit adjustment (ln 4) that the final figures above include.',
    );
    const cifar10Note = html.slice(html.indexOf('id="phase-cifar10"')).match(/<h3>Learning curves<\/h3>\n<p class="note">([^<]*)<\/p>/)?.[1];
    expect(cifar10Note).toBe('train = mean over the epoch&#39;s training batches (augmented, dropout on); test = the test set after the epoch.');
  });
});

