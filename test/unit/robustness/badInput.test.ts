/**
 * The CLI contract for bad input, end to end through the built bundle: exit code 2, exactly one
 * non-empty stderr line starting with `model-lens: `, no stack trace, no hang. And a valid model
 * still exits 0 with a report, so the bad cases fail for the right reason.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeModel } from '../../../src/core/onnx/decode';
import { encodeModel } from '../../../src/core/onnx/encode';
import { DataType, type Model, type Tensor } from '../../../src/core/onnx/types';
import { WireWriter } from '../../../src/core/onnx/wire';
import { ModelBuilder, makeTensor, seededRandom } from '../../helpers/modelBuilder';

const REPO = path.resolve(__dirname, '../../..');
const CLI = path.join(REPO, 'dist', 'cli.js');
const SKIP = fs.existsSync(CLI)
  ? false
  : `${path.relative(REPO, CLI)} not found: run \`npm run build\` first`;
const SPAWN_TIMEOUT_MS = 20_000;

interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

function runCli(args: readonly string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
      // No colours or terminal-width wrapping: the output must be the same for a CI log.
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, SPAWN_TIMEOUT_MS);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
      });
    });
  });
}

/** The bad-input contract; `what` names the case in the failure message. */
function assertBadInput(r: CliResult, what: string): void {
  const context = `${what}\n--- exit ${r.code} signal ${r.signal}\n--- stderr:\n${r.stderr}\n--- stdout:\n${r.stdout.slice(0, 2000)}`;
  assert.ok(!r.timedOut, `did not finish within ${SPAWN_TIMEOUT_MS} ms: ${context}`);
  assert.equal(r.code, 2, `exit code 2: ${context}`);
  const lines = r.stderr.split(/\r?\n/).filter((l) => l.trim() !== '');
  assert.equal(lines.length, 1, `exactly one non-empty stderr line: ${context}`);
  assert.ok(lines[0].startsWith('model-lens: '), `stderr starts with 'model-lens: ': ${context}`);
  assert.ok(lines[0].length > 'model-lens: '.length + 3, `the message says something: ${context}`);
  for (const stream of [r.stderr, r.stdout]) {
    assert.doesNotMatch(stream, /^\s+at .+/m, `no stack frames: ${context}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Models

/** A small valid model: Conv → Relu → GlobalAveragePool → Flatten → Gemm. */
function validModel(): Model {
  const b = new ModelBuilder({ seed: 5, opset: 13 });
  const x = b.input('input', DataType.FLOAT, [1, 3, 16, 16]);
  const w = b.weight('conv.weight', [8, 3, 3, 3]);
  const bias = b.weight('conv.bias', [8]);
  const [c] = b.node('Conv', [x, w, bias], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
  const [r] = b.node('Relu', [c]);
  const [p] = b.node('GlobalAveragePool', [r]);
  const [f] = b.node('Flatten', [p], { axis: 1 });
  const fw = b.weight('fc.weight', [10, 8]);
  const fb = b.weight('fc.bias', [10]);
  const [y] = b.node('Gemm', [f, fw, fb], { transB: 1 }, { outputs: ['logits'] });
  b.output(y, DataType.FLOAT, [1, 10]);
  return b.build();
}

/**
 * The valid model with the graph written LAST (protobuf allows any field order). Then every
 * strict prefix of the file is invalid: it either cuts the graph's length-delimited payload or
 * ends before the graph starts. (With the encoder's order, a cut just after the graph would
 * leave a valid model with no opset_import.)
 */
function graphLastBytes(model: Model): Uint8Array {
  const decoded = decodeModel(encodeModel(model));
  const w = new WireWriter();
  w.varintField(1, decoded.irVersion);
  w.string(2, decoded.producerName);
  for (const o of decoded.opsetImport) w.lengthDelimited(8, o.raw!);
  w.lengthDelimited(7, decoded.graph.raw!);
  return w.finish();
}

/** A MatMul model whose weight is `weight` (possibly broken). */
function withWeight(weight: Tensor): Model {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, [1, 4]);
  const [y] = b.node('MatMul', [x, weight.name], {}, { outputs: ['y'] });
  b.output(y);
  const m = b.build();
  return { ...m, graph: { ...m.graph, initializers: [weight] } };
}

function cyclicModel(): Model {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, [1, 4]);
  // a reads b's output and b reads a's: no execution order exists.
  b.node('Add', [x, 'b_out'], {}, { name: 'a', outputs: ['a_out'] });
  b.node('Relu', ['a_out'], {}, { name: 'b', outputs: ['b_out'] });
  b.output('a_out');
  return b.build();
}

function missingInitializerModel(name = 'fc.weight'): Model {
  const b = new ModelBuilder({ opset: 13 });
  const x = b.input('x', DataType.FLOAT, [1, 4]);
  const [y] = b.node('MatMul', [x, name], {}, { name: 'fc', outputs: ['y'] });
  b.output(y);
  return b.build();
}

function externalMissingModel(): Model {
  const weight: Tensor = {
    extra: [],
    name: 'w',
    dataType: DataType.FLOAT,
    dims: [4, 4],
    externalEntries: [
      { extra: [], key: 'location', value: 'weights_that_do_not_exist.bin' },
      { extra: [], key: 'offset', value: '0' },
      { extra: [], key: 'length', value: '64' },
    ],
    dataLocation: 1,
    docString: '',
  };
  return withWeight(weight);
}

/** The graph field (7) written as a varint instead of a length-delimited message. */
function wrongWireTypeBytes(): Uint8Array {
  const w = new WireWriter();
  w.varintField(1, 8);
  w.varintField(7, 5);
  w.lengthDelimited(8, encodeOpset(13));
  return w.finish();
}

function encodeOpset(version: number): Uint8Array {
  const w = new WireWriter();
  w.varintField(2, version);
  return w.finish();
}

// ---------------------------------------------------------------------------------------------

describe('CLI on bad input', { skip: SKIP }, () => {
  let dir = '';
  const file = (name: string, bytes: Uint8Array | Model): string => {
    const full = path.join(dir, name);
    fs.writeFileSync(full, bytes instanceof Uint8Array ? bytes : encodeModel(bytes));
    return full;
  };

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'model-lens-badinput-'));
  });
  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a valid model: exit 0 and a report on stdout', async () => {
    const f = file('valid.onnx', validModel());
    const r = await runCli(['analyze', f]);
    assert.equal(r.code, 0, `exit 0; stderr: ${r.stderr}`);
    assert.ok(r.stdout.trim().length > 0, 'stdout not empty');
  });

  test('a valid model with --json: parses, with model, totals and nodes', async () => {
    const f = file('valid-json.onnx', validModel());
    const r = await runCli(['analyze', f, '--json']);
    assert.equal(r.code, 0, `exit 0; stderr: ${r.stderr}`);
    const report = JSON.parse(r.stdout) as Record<string, unknown>;
    for (const key of ['model', 'totals', 'nodes']) assert.ok(key in report, `JSON has '${key}'`);
    assert.ok(Array.isArray(report.nodes));
    assert.equal((report.nodes as unknown[]).length, 5, 'one entry per node');
  });

  test('the graph-last layout of the valid model is itself valid', async () => {
    // Guards the truncation test below: its cuts must fail because they are cuts.
    const r = await runCli(['analyze', file('graph-last.onnx', graphLastBytes(validModel()))]);
    assert.equal(r.code, 0, `exit 0; stderr: ${r.stderr}`);
  });

  const cases: [string, () => string][] = [
    ['an empty file', () => file('empty.onnx', new Uint8Array(0))],
    [
      '4 KiB of random bytes',
      () => {
        const rnd = seededRandom(42);
        return file(
          'random.onnx',
          Uint8Array.from({ length: 4096 }, () => Math.floor(rnd() * 256)),
        );
      },
    ],
    ['a graph field encoded as a varint', () => file('wire-type.onnx', wrongWireTypeBytes())],
    ['a negative dimension in an initializer', () => file('negative-dim.onnx', withNegativeDim())],
    [
      'a huge dimension (1e15) in an initializer',
      () => {
        const t = makeTensor('w', DataType.FLOAT, [4, 4]);
        return file('huge-dim.onnx', withWeight({ ...t, dims: [1e15, 4] }));
      },
    ],
    ['a cyclic graph', () => file('cycle.onnx', cyclicModel())],
    [
      'a node reading a missing initializer',
      () => file('missing-init.onnx', missingInitializerModel()),
    ],
    [
      'a missing tensor whose name holds a newline (the message must stay one line)',
      () =>
        file('newline-name.onnx', missingInitializerModel('evil\nname\r\n    at fake (x.js:1:1)')),
    ],
    [
      'external data pointing at a missing file',
      () => file('external-missing.onnx', externalMissingModel()),
    ],
    [
      'a model path that is a directory',
      () => {
        const d = path.join(dir, 'folder.onnx');
        fs.mkdirSync(d, { recursive: true });
        return d;
      },
    ],
    ['a path that does not exist', () => path.join(dir, 'no', 'such', 'model.onnx')],
  ];

  for (const [what, make] of cases) {
    test(`${what}: exit 2 with one line`, async () => {
      assertBadInput(await runCli(['analyze', make()]), what);
    });
  }

  test('the same bad input through `check --device`', async () => {
    // `check` opens the model before it looks at the device, so bad input is still exit 2.
    const r = await runCli([
      'check',
      file('check-empty.onnx', new Uint8Array(0)),
      '--device',
      'esp32-s3',
    ]);
    assertBadInput(r, 'check on an empty file');
  });

  test('an unknown device id: exit 2 with one line', async () => {
    const r = await runCli([
      'check',
      file('check-valid.onnx', validModel()),
      '--device',
      'no-such-device',
    ]);
    assertBadInput(r, 'check --device no-such-device');
  });

  test('a malformed --input shape: exit 2 with one line', async () => {
    const r = await runCli([
      'analyze',
      file('input-valid.onnx', validModel()),
      '--input',
      'input=1xthreex224',
    ]);
    assertBadInput(r, '--input input=1xthreex224');
  });

  test(
    'the valid model truncated at every 1/64th of its length: exit 2 each time',
    { timeout: 120_000 },
    async () => {
      const whole = graphLastBytes(validModel());
      const jobs = Array.from({ length: 64 }, (_, k) => {
        const cut = Math.floor((whole.length * k) / 64);
        return {
          what: `truncated to ${cut} of ${whole.length} bytes (${k}/64)`,
          path: file(`cut-${k}.onnx`, whole.subarray(0, cut)),
        };
      });
      // At most four CLIs at a time: enough to keep the test short on two cores.
      const failures: string[] = [];
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < jobs.length) {
          const job = jobs[next++];
          const r = await runCli(['analyze', job.path]);
          try {
            assertBadInput(r, job.what);
          } catch (e) {
            failures.push((e as Error).message.split('\n').slice(0, 8).join('\n'));
          }
        }
      };
      await Promise.all([worker(), worker(), worker(), worker()]);
      assert.deepEqual(failures, [], `${failures.length} of 64 truncations broke the contract`);
    },
  );
});

function withNegativeDim(): Model {
  // dims [4, -4]: the encoder writes -4 as a ten-byte two's-complement varint, as protobuf does.
  const t = makeTensor('w', DataType.FLOAT, [4, 4], new Float32Array(16));
  return withWeight({ ...t, dims: [4, -4] });
}
