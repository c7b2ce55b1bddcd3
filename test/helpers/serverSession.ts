/**
 * Drives the analyzer server (dist/server.js) over stdio, as the editor does over IPC: for the
 * server tests and the latency benchmark.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import {
  StreamMessageReader,
  StreamMessageWriter,
  createMessageConnection,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import {
  ModelStatusNotification,
  ModelTextRequest,
  type ModelStatus,
  type ModelTextResult,
} from '../../src/shared/protocol';

export interface Diag {
  range: { start: { line: number } };
  severity: number;
  message: string;
}

export class ServerSession {
  readonly diagnostics = new Map<string, Diag[]>();
  readonly statuses: ModelStatus[] = [];
  private waiters: (() => void)[] = [];
  private constructor(
    readonly connection: MessageConnection,
    private readonly proc: ChildProcess,
  ) {}

  /** The server process's id (benchmarks read its memory from /proc). */
  get pid(): number | undefined {
    return this.proc.pid;
  }

  static async start(serverJs: string): Promise<ServerSession> {
    const proc = spawn(process.execPath, [serverJs, '--stdio'], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const connection = createMessageConnection(
      new StreamMessageReader(proc.stdout!),
      new StreamMessageWriter(proc.stdin!),
    );
    const session = new ServerSession(connection, proc);
    connection.onNotification(
      'textDocument/publishDiagnostics',
      (p: { uri: string; diagnostics: Diag[] }) => {
        session.diagnostics.set(p.uri, p.diagnostics);
        session.wake();
      },
    );
    connection.onNotification(ModelStatusNotification, (s: ModelStatus) => {
      session.statuses.push(s);
      session.wake();
    });
    connection.onRequest('workspace/inlayHint/refresh', () => null);
    connection.onRequest('window/workDoneProgress/create', () => null);
    connection.onNotification('window/showMessage', () => undefined);
    connection.listen();
    await connection.sendRequest('initialize', {
      processId: process.pid,
      rootUri: null,
      capabilities: {},
    });
    await connection.sendNotification('initialized', {});
    return session;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Waits (bounded) until `ready` holds after notifications arrive. */
  async until<T>(ready: () => T | undefined, what: string): Promise<T> {
    const deadline = Date.now() + 15000;
    for (;;) {
      const value = ready();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  }

  async open(file: string): Promise<{ uri: string; text: string }> {
    const result: ModelTextResult = await this.connection.sendRequest(ModelTextRequest, {
      path: file,
    });
    const uri = `onnx-model:${encodeURI(file)}`;
    await this.connection.sendNotification('textDocument/didOpen', {
      textDocument: { uri, languageId: 'onnx-text', version: 1, text: result.text },
    });
    return { uri, text: result.text };
  }

  stop(): void {
    this.connection.dispose();
    this.proc.kill();
  }
}
