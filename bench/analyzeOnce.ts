/**
 * One benchmark sample, run in a fresh process so that peak RSS belongs to this model alone:
 * loads and analyzes FILE, then prints `{file, fileBytes, ms, peakRssBytes}` as one JSON line.
 *
 *   node bench/.models/bin/analyzeOnce.js FILE
 */
import * as fs from 'node:fs';
import { analyzeLoadedAsync } from '../src/core/analyze';
import { loadAnyModel } from '../src/core/modelFile';

async function main(): Promise<void> {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: analyzeOnce FILE');
    process.exit(2);
  }
  const fileBytes = fs.statSync(file).size;
  const start = performance.now();
  // As `model-lens analyze` does: the hints' weights read with reads in flight, then the analysis.
  const report = await analyzeLoadedAsync(loadAnyModel(file));
  const ms = performance.now() - start;
  // maxRSS is in KiB on Linux and macOS (getrusage); it covers the whole life of the process.
  const peakRssBytes = process.resourceUsage().maxRSS * 1024;
  // Touch the report so the analysis cannot be mistaken for dead code by a future optimizer.
  if (!report.model) throw new Error('the analysis returned no model section');
  console.log(JSON.stringify({ file, fileBytes, ms, peakRssBytes }));
}

void main();
