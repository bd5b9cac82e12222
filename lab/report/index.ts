/** The reporting library: run records, statistics, selection, renderers, comparison, and `lab report` itself. */
export * from './run-record.js';
export { summarize, ratio, quantile, median, mad, OUTLIER_THRESHOLD, type Ratio, type RatioOptions } from './statistics.js';
export {
  loadRecords,
  writeRecord,
  validateRecord,
  latestPerScenario,
  lastRuns,
  filterScenario,
  findRecord,
  type LoadResult,
} from './records.js';
export { formatMs, formatRatio, formatParams, formatWhen } from './format.js';
export { compareRuns, type Comparison, type CompareRow, type CompareVerdict } from './compare.js';
export { renderTable, renderCompareTable } from './render-table.js';
export { renderJson, renderCompareJson } from './render-json.js';
export { renderCsv, renderCompareCsv } from './render-csv.js';
export { renderMarkdown, renderCompareMarkdown } from './render-md.js';
export { renderHtml, renderCompareHtml } from './render-html.js';
export { runReport, REPORT_FORMATS, noRunsMessage, type ReportFormat, type ReportOptions, type ReportResult } from './report.js';
