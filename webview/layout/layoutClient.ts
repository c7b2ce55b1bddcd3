/**
 * Runs layouts in a web worker. The worker's code is bundled into this script as text
 * (scripts/build.mjs) and started from a blob: URL: a webview may only start same-origin workers,
 * and its resources live on another origin. Where workers are unavailable, it lays out here with
 * the fast layout (ELK stays out of this bundle: it is half of the worker's size).
 */
import workerSource from 'layout-worker-source';
import { fastLayered } from './fastLayered';
import type { LayoutEngine, LayoutInput, LayoutResult } from './types';

type Reply = { id: number; result?: LayoutResult; error?: string };

export class LayoutClient {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, (reply: Reply) => void>();

  constructor() {
    try {
      const url = URL.createObjectURL(new Blob([workerSource], { type: 'text/javascript' }));
      this.worker = new Worker(url);
      this.worker.onmessage = (e: MessageEvent<Reply>) => {
        this.pending.get(e.data.id)?.(e.data);
        this.pending.delete(e.data.id);
      };
      this.worker.onerror = () => {
        this.worker = undefined;
      };
    } catch {
      this.worker = undefined;
    }
  }

  /** Whether layouts run in a worker (false: on this thread, e.g. CSP refused the worker). */
  get inWorker(): boolean {
    return this.worker !== undefined;
  }

  layout(input: LayoutInput, engine: LayoutEngine): Promise<LayoutResult> {
    const worker = this.worker;
    if (!worker) return Promise.resolve(fastLayered(input));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (reply) =>
        reply.result ? resolve(reply.result) : reject(new Error(reply.error ?? 'layout failed')),
      );
      worker.postMessage({ id, input, engine });
    });
  }
}
