import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { analyzeFile } from '../../src/core/analyze';
import { SHARED_MODELS_DIR, sharedModels } from '../helpers/sharedModels';

const shared = sharedModels();

describe(
  'real exported models match independently measured references',
  { skip: 'skip' in shared ? shared.skip : false },
  () => {
    const models = 'models' in shared ? shared.models : {};
    for (const [name, ref] of Object.entries(models)) {
      test(`${name}: MACs within 0.5%, params exact, every output shape known`, () => {
        const report = analyzeFile(path.join(SHARED_MODELS_DIR, ref.file));
        const error = Math.abs(report.totals.macs - ref.macs) / ref.macs;
        assert.ok(
          error <= 0.005,
          `MACs ${report.totals.macs} vs reference ${ref.macs} (${(error * 100).toFixed(3)}% off)`,
        );
        assert.equal(report.totals.params, ref.float_initializer_elements);
        for (const node of report.nodes) {
          for (const out of node.outputs) {
            assert.ok(out.shape, `${node.name} (${node.op}) output ${out.name} has no shape`);
            for (const d of out.shape) {
              assert.equal(
                typeof d,
                'number',
                `${node.name} output ${out.name} has symbolic dim ${d}`,
              );
            }
          }
        }
        assert.deepEqual(
          report.diagnostics.filter((d) => d.severity !== 'info'),
          [],
          'a clean torchvision export analyses without warnings',
        );
      });
    }
  },
);
