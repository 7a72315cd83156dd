/**
 * @cifar-dist/report — turns a finished run's report.json into files a person opens: one
 * self-contained HTML page (Vega-Lite charts as inline SVG, tables) and a CSV of each phase's
 * per-epoch history. This file is the library's only public door.
 */
export { ReportError, type ReportErrorCode } from './errors.js';
export { historyCsv, historyColumns, HISTORY_COLUMNS, UNADJUSTED_COLUMNS } from './history-csv.js';
export { renderReportHtml } from './render-report.js';
export { writeRunArtifacts, historyFileName } from './artifacts.js';
export { readRunReport } from './read-report.js';
export {
  renderSvg,
  renderPhaseCharts,
  learningCurveSpec,
  confusionMatrixSpec,
  type CurveMetric,
  type PhaseCharts,
} from './charts.js';
export { escapeHtml } from './html.js';
