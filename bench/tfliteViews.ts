/**
 * Does loading a .tflite copy its tensor payloads? Reads FILE into one buffer and translates it
 * as analyzeFile does (modelFile.ts: readModelBytes, then parseAnyModelBytes), and counts the
 * initializers whose bytes are views of that buffer against those held in memory of their own.
 * Then analyzes it, and prints one JSON line: the counts and bytes, peak RSS after loading and
 * after the analysis, in a fresh process.
 *
 *   node bench/.models/bin/tfliteViews.js FILE
 */
import * as path from 'node:path';
import { analyzeLoaded } from '../src/core/analyze';
import { parseAnyModelBytes } from '../src/core/modelFile';
import { readModelBytes } from '../src/core/onnx/load';

function main(): void {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: tfliteViews FILE');
    process.exit(2);
  }
  const full = path.resolve(file);
  const bytes = readModelBytes(full); // as loadAnyModel reads it
  const loaded = parseAnyModelBytes(bytes, path.dirname(full), full);
  let views = 0;
  let viewBytes = 0;
  let copies = 0;
  let copiedBytes = 0;
  for (const t of loaded.model.graph.initializers) {
    const data = t.rawData;
    if (!data || data.length === 0) continue;
    if (data.buffer === bytes.buffer) {
      views++;
      viewBytes += data.length;
    } else {
      copies++;
      copiedBytes += data.length;
    }
  }
  const loadRssBytes = process.resourceUsage().maxRSS * 1024;
  const report = analyzeLoaded(loaded);
  if (!report.model) throw new Error('the analysis returned no model section');
  const peakRssBytes = process.resourceUsage().maxRSS * 1024;
  console.log(
    JSON.stringify({
      file,
      fileBytes: bytes.length,
      views,
      viewBytes,
      copies,
      copiedBytes,
      loadRssBytes,
      peakRssBytes,
    }),
  );
}

main();
