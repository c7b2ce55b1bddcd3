/**
 * The report view's messages: the extension asks the server for a model's report
 * (`ReportViewRequest`), shows it in a webview (src/extension/reportPanel.ts) and exports its
 * CSV / markdown. Every figure comes from src/core/text/layerTable.ts.
 */

/** Client → server: DocumentParams → ReportView | null. */
export const ReportViewRequest = 'modelLens/reportView';

export interface ReportViewColumn {
  readonly key: string;
  readonly title: string;
  readonly numeric: boolean;
}

export interface ReportView {
  /** The model's file name. */
  readonly title: string;
  /** Summary lines above the table (totals, memory peak, device verdict), plain text. */
  readonly summary: readonly string[];
  readonly columns: readonly ReportViewColumn[];
  /** Per layer: display text and sort key per column, in execution order. */
  readonly rows: readonly {
    readonly cells: readonly string[];
    readonly keys: readonly (number | string)[];
  }[];
  /** What Export CSV writes: exactly `model-lens analyze FILE --csv` with the same settings. */
  readonly csv: string;
  /** What Export Markdown writes: the whole report, with the same table. */
  readonly markdown: string;
}

/** Webview → extension. */
export type FromReportWebview = { type: 'ready' } | { type: 'export'; format: 'csv' | 'markdown' };

/** Extension → webview. */
export type ToReportWebview =
  { type: 'report'; report: ReportView } | { type: 'empty'; message: string };
