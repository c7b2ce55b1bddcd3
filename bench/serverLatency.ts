/**
 * Editor latency, measured at the analyzer server over stdio (the editor talks to it over IPC):
 * the time from asking for a model's text to its first diagnostics, then hover latency over
 * every layer line. Prints one JSON line per model.
 */
import * as path from 'node:path';
import { ServerSession } from '../test/helpers/serverSession';
import { DEFAULT_SETTINGS } from '../src/server/modelStore';
import { SettingsNotification } from '../src/shared/protocol';

const HOVERS = 300;

async function measure(serverJs: string, file: string): Promise<void> {
  const session = await ServerSession.start(serverJs);
  try {
    await session.connection.sendNotification(SettingsNotification, {
      ...DEFAULT_SETTINGS,
      device: 'stm32h743',
    });
    const start = performance.now();
    const { uri, text } = await session.open(file);
    await session.until(() => session.diagnostics.get(uri), 'first diagnostics');
    const toDiagnostics = performance.now() - start;
    const lines = text.split('\n');
    const layerLines = lines.flatMap((l, i) =>
      / = \w+ [<(]/.test(l) && !l.includes('= Identity') ? [i] : [],
    );
    const latencies: number[] = [];
    for (let k = 0; k < HOVERS; k++) {
      const line = layerLines[k % layerLines.length];
      const t0 = performance.now();
      await session.connection.sendRequest('textDocument/hover', {
        textDocument: { uri },
        position: { line, character: 4 },
      });
      latencies.push(performance.now() - t0);
    }
    latencies.sort((a, b) => a - b);
    const pct = (p: number): number =>
      latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
    console.log(
      JSON.stringify({
        file: path.basename(file),
        toDiagnosticsMs: toDiagnostics,
        hoverP50Ms: pct(0.5),
        hoverP95Ms: pct(0.95),
        hovers: HOVERS,
      }),
    );
  } finally {
    session.stop();
  }
}

async function main(): Promise<void> {
  const [serverJs, ...files] = process.argv.slice(2);
  for (const f of files) await measure(serverJs, f);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
