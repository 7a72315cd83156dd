import type { ClassificationReport } from '@cifar-dist/metrics';
import { formatAdapter } from '@cifar-dist/model';
import { COMPARED_METRICS, REFERENCE, type ComparedMetric, type PhaseReport, type ReferenceSplit, type RunReport } from '@cifar-dist/training';
import { renderPhaseCharts } from './charts.js';
import { escapeHtml, fixed4, htmlTable, integer, keyValueTable, type Cell } from './html.js';

/** Reference figures of one phase, as in REFERENCE (the published lab report). */
type ReferencePhase = (typeof REFERENCE)[keyof typeof REFERENCE];

const STYLE = `
body{font-family:system-ui,sans-serif;margin:1.5rem auto;max-width:1100px;padding:0 1rem;color:#222}
h1{font-size:1.5rem}h2{font-size:1.25rem;border-bottom:1px solid #ccc;padding-bottom:.2rem;margin-top:2rem}h3{font-size:1.05rem}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.9rem}
th,td{border:1px solid #ddd;padding:.2rem .6rem;text-align:left}
thead th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
.charts{display:flex;flex-wrap:wrap;gap:1rem;align-items:flex-start}
figure{margin:0}figure svg{max-width:100%;height:auto}
.note{color:#555;font-size:.85rem}
.subset{background:#fff4d6;border:1px solid #e0b84c;padding:.4rem .7rem;border-radius:4px}
`.trim();

const num = (text: string): Cell => ({ text, className: 'num' });

/** "1 h 45 min 50 s" between two ISO times; "–" when either does not parse. */
function duration(startIso: string, endIso: string): string {
  const ms = Date.parse(endIso) - Date.parse(startIso);
  if (!Number.isFinite(ms) || ms < 0) return '–';
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${h > 0 ? `${h} h ` : ''}${h > 0 || m > 0 ? `${m} min ` : ''}${s % 60} s`;
}

/**
 * The --holdout / --train-limit / --test-limit a run used, in words (`--train-limit 5000 (the first 5,000
 * training records of each file set)`), or null when it used the full sets.
 */
export function dataLimitsText(config: Pick<RunReport['config'], 'trainLimit' | 'testLimit' | 'holdout'>): string | null {
  const parts: string[] = [];
  if (config.holdout !== undefined) {
    parts.push(`--holdout ${config.holdout} (trained on the first ${Math.round((1 - config.holdout) * 1000) / 10}% of each class of the training set; every "test" figure is on the held-out rest, and the test sets were not read)`);
  }
  if (config.trainLimit !== undefined) parts.push(`--train-limit ${config.trainLimit} (the first ${integer(config.trainLimit)} training records of each file set)`);
  if (config.testLimit !== undefined) parts.push(`--test-limit ${config.testLimit} (the first ${integer(config.testLimit)} test records of each file set)`);
  return parts.length > 0 ? parts.join(', ') : null;
}

/** The page-top warning of a run on part of the data; '' for a full run. */
function subsetBanner(report: RunReport): string {
  const limits = dataLimitsText(report.config);
  if (limits === null) return '';
  return `<p class="subset" id="data-subset"><strong>Part of the data:</strong> ${escapeHtml(
    `this run used ${limits}. Its figures are not comparable with the reference's, which trained and tested on the full sets.`,
  )}</p>`;
}

function headerHtml(report: RunReport): string {
  const c = report.config;
  const workers = report.workers
    .map((w) => `${w.workerId}: ${w.backend}, ${w.device}${formatAdapter(w.adapter)} (${w.hostname}, pid ${w.pid})`)
    .join('; ');
  return keyValueTable([
    ['started', report.startedAt],
    ['finished', report.finishedAt],
    ['duration', duration(report.startedAt, report.finishedAt)],
    ['backend', report.backend],
    ['workers', `${report.workers.length}${workers ? ` — ${workers}` : ''}`],
    ['data', dataLimitsText(c) ?? 'full training and test sets'],
    ['epochs', `${c.epochs} (fine-tune ${c.finetuneEpochs})`],
    ['global batch', String(c.batchSize)],
    ['optimizer', c.optimizer.name],
    ['peak learning rate', `${c.schedule.lr} (fine-tune ${c.finetuneSchedule.lr}), ${c.schedule.decay} decay`],
    ['seed', String(c.seed)],
    ['augment / dropout', `${c.augment ? 'yes' : 'no'} / ${c.dropout ? 'yes' : 'no'}`],
  ]);
}

/** Ours vs the reference, test and train: accuracy, loss, macro and weighted precision/recall/F1. */
function referenceTable(phase: PhaseReport, ref: ReferencePhase | undefined): string {
  const t = phase.test;
  const tr: ClassificationReport | null = phase.train;
  // Accuracy and loss as published; the rest from the reference's confusion matrices (4 decimals).
  const refText = (m: ComparedMetric, s: ReferenceSplit | undefined): string =>
    s === undefined ? '–' : m.label === 'accuracy' || m.label === 'loss' ? String(m.reference(s)) : fixed4(m.reference(s));
  const rows = COMPARED_METRICS.map((m): [string, string, string, string, string] => [
    m.label,
    fixed4(m.ours(t)),
    refText(m, ref?.test),
    fixed4(tr === null ? undefined : m.ours(tr)),
    refText(m, ref?.train),
  ]);
  return htmlTable(
    ['metric', 'ours (test)', 'reference (test)', 'ours (train)', 'reference (train)'],
    rows.map(([label, ot, rt, otr, rtr]) => [label, num(ot), num(rt), num(otr), num(rtr)]),
    'reference',
  );
}

/** scikit-learn classification_report as a table: one row per class, then accuracy, macro and weighted. */
function perClassTable(r: ClassificationReport): string {
  const rows = r.perClass.map((c) => [c.name, num(fixed4(c.precision)), num(fixed4(c.recall)), num(fixed4(c.f1)), num(integer(c.support))]);
  rows.push(['accuracy', num(''), num(''), num(fixed4(r.accuracy)), num(integer(r.samples))]);
  rows.push(['macro avg', num(fixed4(r.precisionMacro)), num(fixed4(r.recallMacro)), num(fixed4(r.f1Macro)), num(integer(r.samples))]);
  rows.push([
    'weighted avg',
    num(fixed4(r.precisionWeighted)),
    num(fixed4(r.recallWeighted)),
    num(fixed4(r.f1Weighted)),
    num(integer(r.samples)),
  ]);
  return htmlTable(['class', 'precision', 'recall', 'F1', 'support'], rows, 'per-class');
}

function phaseSummary(phase: PhaseReport): string {
  const parts = [
    `${phase.numClasses} classes`,
    `${integer(phase.params)} parameters (${integer(phase.trainableParams)} trainable, first ${phase.frozenLayers} layers frozen)`,
    `${phase.epochs} epochs, ${integer(phase.steps)} steps, ${integer(phase.samplesSeen)} samples seen`,
    `${phase.seconds.toFixed(0)} s`,
  ];
  if (phase.frozenWeightsUnchanged !== undefined) {
    parts.push(`frozen layers bit-identical to phase 1: ${phase.frozenWeightsUnchanged ? 'yes' : 'NO'}`);
  }
  return `<p>${escapeHtml(parts.join(' · '))}</p>`;
}

/** The fine-tune's logit adjustment in words: by how much, towards which class prior, and any class bias on top. */
function adjustmentText(config: RunReport['config']): string {
  const tau = config.finetuneLogitTau ?? 0;
  const k = config.finetuneOversample;
  const prior = tau === 0
    ? k === 1 ? null : `the added classes' output bias lowered by ln ${k}`
    : `tau ${tau}: the output bias shifted from the oversampled prior to the natural prior to the power ${Math.round((1 - tau) * 1000) / 1000}`;
  const bias = Object.entries(config.finetuneClassBias ?? {});
  if (bias.length === 0) return prior ?? 'none';
  const shifts = `a class bias added to the output bias: ${bias.map(([name, b]) => `${b >= 0 ? '+' : ''}${b} for ${name}`).join(', ')}`;
  return prior === null ? shifts : `${prior}, then ${shifts}`;
}

/** What the learning curves' splits are; where a logit adjustment is involved, whether per-epoch test figures include it. */
function curvesNote(phase: PhaseReport, config: RunReport['config']): string {
  const base = "train = mean over the epoch's training batches (augmented, dropout on); test = the test set after the epoch";
  const k = config.finetuneOversample;
  if (phase.history.some((h) => h.testAccuracyUnadjusted !== undefined)) {
    return (
      `${base}, taken with the logit adjustment applied (${adjustmentText(config)}), as the final figures above are; ` +
      'test before logit adjustment = the same test set with the output bias as trained.'
    );
  }
  if (phase.name === 'finetune' && config.finetuneLogitAdjust === true && k > 1 && phase.history.length > 0) {
    // report.json of a run from before the per-epoch figures included the adjustment
    return `${base}, taken with the output bias as trained: before the logit adjustment (ln ${k}) that the final figures above include.`;
  }
  return `${base}.`;
}

/** Beside the reference comparison of a run on part of the data: what ours was trained and tested on. */
function subsetNote(phase: PhaseReport, config: RunReport['config']): string {
  const limits = dataLimitsText(config);
  if (limits === null) return '';
  return `<p class="note subset">${escapeHtml(
    `Not like for like: ours used ${limits}, and its test figures are over ${integer(phase.test.samples)} test images; ` +
      "the reference's are over the full training and test sets.",
  )}</p>`;
}

async function phaseHtml(phase: PhaseReport, config: RunReport['config']): Promise<string> {
  const ref = (REFERENCE as Partial<Record<string, ReferencePhase>>)[phase.name];
  const charts = await renderPhaseCharts(phase);
  const id = `phase-${phase.name.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  return [
    `<section id="${escapeHtml(id)}">`,
    `<h2>Phase ${escapeHtml(phase.name)}</h2>`,
    phaseSummary(phase),
    '<h3>Ours vs reference</h3>',
    ref === undefined ? '<p class="note">No reference figures for this phase.</p>' : subsetNote(phase, config) + referenceTable(phase, ref),
    '<h3>Learning curves</h3>',
    `<p class="note">${escapeHtml(curvesNote(phase, config))}</p>`,
    `<div class="charts"><figure>${charts.loss}</figure><figure>${charts.accuracy}</figure></div>`,
    '<h3>Test set</h3>',
    `<div class="charts"><figure>${charts.confusion}</figure>`,
    `<div>${perClassTable(phase.test)}</div></div>`,
    '</section>',
  ].join('\n');
}

/**
 * One self-contained HTML page for a finished run: a header (times, backend, workers, the data
 * used, key config; a run cut by --train-limit/--test-limit says so in a banner at the top and
 * beside each reference comparison), then per phase a comparison with the reference figures (REFERENCE from @cifar-dist/training),
 * loss and accuracy learning curves, the test confusion matrix as a heatmap and the per-class table.
 * Charts are Vega-Lite specs rendered to inline SVG; the page loads nothing (a CSP forbids it), so
 * it works offline. All report text is HTML-escaped.
 * @returns the page, UTF-8 text starting with `<!doctype html>`
 */
export async function renderReportHtml(report: RunReport): Promise<string> {
  const phases: string[] = [];
  for (const phase of report.phases) phases.push(await phaseHtml(phase, report.config));
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(`cifar-dist run ${report.startedAt}`)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    '<h1>cifar-dist training run</h1>',
    subsetBanner(report),
    headerHtml(report),
    ...phases,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
