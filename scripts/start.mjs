// `npm start`: analyses the sample models with the freshly built CLI and prints the tables.
// Uses ../shared/models when this checkout has them, otherwise a small generated model.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const shared = path.resolve(root, '../shared/models');
let models = fs.existsSync(shared)
  ? fs
      .readdirSync(shared)
      .filter((f) => f.endsWith('.onnx'))
      .map((f) => path.join(shared, f))
  : [];
if (models.length === 0) {
  const sample = path.join(root, 'dist', 'sample-cnn.onnx');
  execFileSync(
    process.execPath,
    ['--import', 'tsx', path.join(root, 'scripts', 'sampleModel.ts'), sample],
    { stdio: 'inherit' },
  );
  models = [sample];
}
for (const model of models) {
  execFileSync(
    process.execPath,
    [path.join(root, 'dist', 'cli.js'), 'analyze', model, '--device', 'stm32h743'],
    {
      stdio: 'inherit',
    },
  );
  process.stdout.write('\n');
}
