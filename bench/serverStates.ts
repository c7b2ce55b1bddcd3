/**
 * Issue 16: the analyzer server's memory while it holds many states of one large model. Opens a
 * copy of the model, then applies ten quick fixes one after another, each quantizing one more
 * layer to int8 (the editor keeps every state for undo), waiting for each state's diagnostics.
 * Prints one JSON line: the file size and the server's resident memory (VmRSS) and peak (VmHWM)
 * after the open and after the ten fixes, read from /proc.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_SETTINGS } from '../src/server/modelStore';
import { ApplyFixRequest, SettingsNotification, type ApplyFixResult } from '../src/shared/protocol';
import { ServerSession } from '../test/helpers/serverSession';

const STATES = 10;

function memory(pid: number): { rssBytes: number; peakBytes: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string): number =>
    Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1]) * 1024;
  return { rssBytes: kb('VmRSS'), peakBytes: kb('VmHWM') };
}

async function main(): Promise<void> {
  const [serverJs, original] = process.argv.slice(2);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-states-'));
  const file = path.join(dir, path.basename(original));
  fs.copyFileSync(original, file);
  const session = await ServerSession.start(serverJs);
  try {
    await session.connection.sendNotification(SettingsNotification, DEFAULT_SETTINGS);
    const { uri, text } = await session.open(file);
    await session.until(() => session.diagnostics.get(uri), 'first diagnostics');
    const afterOpen = memory(session.pid!);
    // The layer names, in file order, from the text view's `["name"] … = Conv|Gemm` lines.
    const names = [...text.matchAll(/^\s*\["([^"]+)"\] \S+ = (?:Conv|Gemm|MatMul)\b/gm)].map(
      (m) => m[1],
    );
    if (names.length < STATES) throw new Error(`only ${names.length} layers to quantize`);
    let version = 1;
    let current = text;
    for (let i = 0; i < STATES; i++) {
      const seen = session.diagnostics.get(uri);
      const fix: ApplyFixResult = await session.connection.sendRequest(ApplyFixRequest, {
        uri,
        fix: { kind: 'quantize', bits: 8, layers: [names[i]] },
      });
      if (!('text' in fix)) throw new Error(`fix ${i + 1} refused: ${fix.refusal}`);
      current = fix.text;
      await session.connection.sendNotification('textDocument/didChange', {
        textDocument: { uri, version: ++version },
        contentChanges: [{ text: current }],
      });
      await session.until(
        () => (session.diagnostics.get(uri) !== seen ? true : undefined),
        `diagnostics of state ${i + 2}`,
      );
    }
    const afterFixes = memory(session.pid!);
    console.log(
      JSON.stringify({
        file: path.basename(file),
        fileBytes: fs.statSync(file).size,
        states: STATES + 1,
        afterOpen,
        afterFixes,
      }),
    );
  } finally {
    session.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
