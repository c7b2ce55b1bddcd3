/**
 * The analyzer server's entry for the VS Code extension (dist/server.js, started by
 * src/extension/client.ts): a connection from the command line's transport (`--node-ipc`, or
 * `--stdio` as the server tests use it), served by analyzerServer.ts. `model-lens lsp --stdio`
 * serves the same handlers over stdio for other editors (src/cli/lspCommand.ts).
 */
import { ProposedFeatures, createConnection } from 'vscode-languageserver/node';
import { startServer } from './analyzerServer';

startServer(createConnection(ProposedFeatures.all));
