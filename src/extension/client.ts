/** Starts the analyzer server (dist/server.js) as a separate Node process, talking LSP over IPC. */
import * as vscode from 'vscode';
import {
  LanguageClient,
  TransportKind,
  type LanguageClientOptions,
  type ServerOptions,
} from 'vscode-languageclient/node';
import { LANGUAGE_ID, MODEL_SCHEME } from '../shared/protocol';

export function createClient(context: vscode.ExtensionContext): LanguageClient {
  const module = context.asAbsolutePath('dist/server.js');
  const serverOptions: ServerOptions = {
    run: { module, transport: TransportKind.ipc },
    debug: { module, transport: TransportKind.ipc, options: { execArgv: ['--inspect=6019'] } },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: MODEL_SCHEME, language: LANGUAGE_ID }],
    outputChannelName: 'Model Lens',
  };
  return new LanguageClient('modelLens', 'Model Lens analyzer', serverOptions, clientOptions);
}
