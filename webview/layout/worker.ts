/**
 * The layout worker: runs the layout off the UI thread, so the webview stays responsive while a
 * large graph is laid out. One request at a time; each reply carries the request's id so a
 * stale reply (the graph changed meanwhile) is dropped by the caller.
 */
import { layoutGraph } from './layout';
import type { LayoutEngine, LayoutInput } from './types';

interface WorkerScope {
  onmessage:
    ((e: MessageEvent<{ id: number; input: LayoutInput; engine: LayoutEngine }>) => void) | null;
  postMessage(message: unknown, transfer?: Transferable[]): void;
}
const scope = self as unknown as WorkerScope;

// Warm up: ELK's first layout pays for its class initialisation and JIT (hundreds of ms); do
// that while the extension is still fetching the graph data.
void layoutGraph({
  nodes: [
    { id: 'a', width: 10, height: 10 },
    { id: 'b', width: 10, height: 10 },
  ],
  edges: [{ from: 'a', to: 'b' }],
}).catch(() => undefined);

// Assigned after elkjs is loaded: elkjs installs its own onmessage when it finds itself in a
// worker, and this one must win.
scope.onmessage = (e) => {
  const { id, input, engine } = e.data;
  layoutGraph(input, engine).then(
    (result) => scope.postMessage({ id, result }, [result.x.buffer, result.y.buffer]),
    (error: unknown) => scope.postMessage({ id, error: String(error) }),
  );
};
