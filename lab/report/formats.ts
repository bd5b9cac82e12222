/** The report formats, in a module of their own so the CLI can offer them without loading the renderers. */
export const REPORT_FORMATS = ['table', 'json', 'csv', 'md', 'html'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];
