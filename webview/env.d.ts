/** Module shims for the webview bundle (scripts/build.mjs provides the first). */
declare module 'layout-worker-source' {
  const source: string;
  export default source;
}

/** The VS Code webview API, available as a global function once. */
declare function acquireVsCodeApi(): {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
};
