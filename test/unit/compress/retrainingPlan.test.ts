import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Ajv2020 from 'ajv/dist/2020';
import { calibrateActivations } from '../../../src/core/compress/calibrate';
import { convertFloat } from '../../../src/core/compress/convertFloat';
import { planScript, planScriptPath, writePlanFiles } from '../../../src/core/compress/planScript';
import { pruneFilters } from '../../../src/core/compress/pruneStructured';
import { pruneUnstructured } from '../../../src/core/compress/pruneUnstructured';
import { quantizeWeights } from '../../../src/core/compress/quantize';
import { quantizeActivations } from '../../../src/core/compress/quantizeActivations';
import {
  moduleFromNodeName,
  retrainingPlan,
  type PlanLayer,
  type RetrainingPlan,
} from '../../../src/core/compress/retrainingPlan';
import { parseCli } from '../../../src/cli/args';
import { compressCommand } from '../../../src/cli/compressCommand';
import { loadModelFile, saveModelFile } from '../../../src/core/onnx/load';
import { DataType, type Model } from '../../../src/core/onnx/types';
import { ModelBuilder } from '../../helpers/modelBuilder';
import { SHARED_MODELS_DIR } from '../../helpers/sharedModels';

const SCHEMA = path.resolve(__dirname, '../../../docs/retraining-plan.schema.json');

function validate(plan: unknown): void {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  const check = ajv.compile(JSON.parse(fs.readFileSync(SCHEMA, 'utf8')) as object);
  assert.ok(check(plan), ajv.errorsText(check.errors));
}

/**
 * Named as torch.onnx names a module's nodes: conv1 with a folded weight (`onnx::Conv_1`, found
 * through the node name), layer1.0.conv1 with its own, fc a Linear.
 */
function tinyModel(opset = 13): Model {
  const b = new ModelBuilder({ opset, seed: 3 });
  const x = b.input('input', DataType.FLOAT, [1, 3, 8, 8]);
  const conv = (name: string, input: string, w: string, bias: string, inC: number): string =>
    b.node(
      'Conv',
      [input, b.weight(w, [8, inC, 3, 3]), b.weight(bias, [8])],
      { pads: [1, 1, 1, 1] },
      { name, outputs: [`${name}_output_0`] },
    )[0];
  const c1 = conv('/conv1/Conv', x, 'onnx::Conv_1', 'onnx::Conv_2', 3);
  const [r1] = b.node('Relu', [c1], {}, { name: '/relu/Relu', outputs: ['/relu/Relu_output_0'] });
  const c2 = conv(
    '/layer1/layer1.0/conv1/Conv',
    r1,
    'layer1.0.conv1.weight',
    'layer1.0.conv1.bias',
    8,
  );
  const [r2] = b.node('Relu', [c2], {}, { name: '/layer1/layer1.0/relu/Relu' });
  const [p] = b.node('GlobalAveragePool', [r2], {}, { name: '/GlobalAveragePool' });
  const [f] = b.node('Flatten', [p], { axis: 1 }, { name: '/Flatten' });
  const [y] = b.node(
    'Gemm',
    [f, b.weight('fc.weight', [10, 8]), b.weight('fc.bias', [10])],
    { transB: 1 },
    { name: '/fc/Gemm' },
  );
  b.output(y, DataType.FLOAT, [1, 10]);
  return b.load().model;
}

/** Filters removed from conv1, layer1.0.conv1 pruned to half, both quantized, fc kept float. */
async function compressedTiny(): Promise<{ original: Model; model: Model }> {
  const original = tinyModel();
  let model = pruneFilters(original, { fraction: 0.25, layers: ['/conv1/Conv'] }).model;
  model = pruneUnstructured(model, {
    sparsity: 0.5,
    scope: 'layer',
    layers: ['/layer1/layer1.0/conv1/Conv'],
  }).model;
  model = quantizeWeights(model, {
    bits: 8,
    layers: ['/conv1/Conv', '/layer1/layer1.0/conv1/Conv'],
    bitsPerLayer: new Map([
      ['/conv1/Conv', 4],
      ['/layer1/layer1.0/conv1/Conv', 6],
    ]),
  }).model;
  const calibration = await calibrateActivations({ model, fileBytes: 0 } as never, {});
  model = quantizeActivations(model, calibration, { mode: 'auto' }).model;
  return { original, model };
}

const layerOf = (plan: RetrainingPlan, module: string): PlanLayer => {
  const layer = plan.layers.find((l) => l.module === module);
  assert.ok(layer, `a layer for module ${module}`);
  return layer;
};

test('module paths from torch.onnx scope names', () => {
  assert.equal(moduleFromNodeName('/conv1/Conv'), 'conv1');
  assert.equal(moduleFromNodeName('/layer1/layer1.0/conv1/Conv'), 'layer1.0.conv1');
  assert.equal(
    moduleFromNodeName('/layer2/layer2.0/downsample/downsample.0/Conv'),
    'layer2.0.downsample.0',
  );
  assert.equal(
    moduleFromNodeName('/features/features.3/conv/conv.0/conv.0.0/Conv'),
    'features.3.conv.0.0',
  );
  assert.equal(moduleFromNodeName('/0/Conv'), '0');
  assert.equal(moduleFromNodeName('/0/0.1/Conv_3'), '0.1');
  assert.equal(moduleFromNodeName('/fc/Gemm'), 'fc');
  assert.equal(moduleFromNodeName('Conv_12'), null);
  assert.equal(moduleFromNodeName('/Flatten'), null);
});

test('the plan says what the compressed model is, and validates against its schema', async () => {
  const { original, model } = await compressedTiny();
  const plan = retrainingPlan(model, undefined, original);
  validate(plan);
  assert.equal(plan.model.comparedWithOriginal, true);
  assert.deepEqual(
    plan.layers.map((l) => [l.node, l.module, l.moduleFrom]),
    [
      ['/conv1/Conv', 'conv1', 'node'],
      ['/layer1/layer1.0/conv1/Conv', 'layer1.0.conv1', 'weight'],
      ['/fc/Gemm', 'fc', 'weight'],
    ],
  );
  const conv1 = layerOf(plan, 'conv1');
  const { removed, ...counts } = conv1.structured!;
  assert.deepEqual(counts, { axis: 0, channelsBefore: 8, channelsAfter: 6, fraction: 0.25 });
  assert.equal(removed?.length, 2, 'the two filters pruning recorded on the node');
  assert.equal(conv1.quantization?.bits, 4);
  assert.equal(conv1.quantization?.storage, 'int4');
  assert.deepEqual([conv1.quantization?.quantMin, conv1.quantization?.quantMax], [-7, 7]);
  assert.equal(conv1.quantization?.axis, 0, 'per-channel scales on the output channels');
  assert.equal(conv1.sparsity, 0, 'zeros from 4-bit rounding are not pruning');
  const block = layerOf(plan, 'layer1.0.conv1');
  assert.equal(block.quantization?.bits, 6, '6-bit values in int8 storage');
  assert.equal(block.quantization?.storage, 'int8');
  assert.ok(Math.abs(block.sparsity - 0.5) < 0.01, `sparsity ${block.sparsity}`);
  assert.equal(block.structured, null, 'its input channels went, not its filters');
  const fc = layerOf(plan, 'fc');
  assert.equal(fc.quantization, null, 'kept float');
  assert.equal(fc.sparsity, 0);
  // Calibrated activations, each tied to the layer that reads it.
  const inputs = new Map(plan.activations.flatMap((a) => a.inputOf.map((m) => [m, a])));
  assert.deepEqual([...inputs.keys()].sort(), ['conv1', 'fc', 'layer1.0.conv1']);
  const relu = inputs.get('layer1.0.conv1')!;
  assert.equal(relu.dtype, 'uint8', 'after ReLU');
  assert.equal(relu.min, 0);
  assert.ok(relu.max > 0 && relu.scale > 0);
  // Without the original, the record pruning left on the node says the same.
  const alone = retrainingPlan(model);
  validate(alone);
  assert.deepEqual(layerOf(alone, 'conv1').structured, conv1.structured);
  assert.equal(layerOf(alone, 'conv1').quantization?.bits, 4);
  // The float model: every layer float, dense, no activations.
  const float = retrainingPlan(original);
  validate(float);
  assert.ok(float.layers.every((l) => l.quantization === null && l.sparsity === 0));
  assert.deepEqual(float.activations, []);
});

test('the schema rejects what is not a plan', () => {
  const ajv = new Ajv2020({ strict: true });
  const check = ajv.compile(JSON.parse(fs.readFileSync(SCHEMA, 'utf8')) as object);
  const plan = retrainingPlan(tinyModel());
  assert.ok(check(plan));
  const bad = structuredClone(plan) as { layers: { sparsity: number }[] };
  bad.layers[0].sparsity = 1.5;
  assert.ok(!check(bad));
  assert.ok(!check({ ...plan, format: 'other' }));
});

test('compress --export-plan writes the plan and its script next to it', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plan-cli-'));
  const input = path.join(dir, 'tiny.onnx');
  saveModelFile(tinyModel(), input);
  const options = parseCli([
    'compress',
    input,
    '-o',
    path.join(dir, 'out.onnx'),
    '--quantize',
    'int8',
    '--structured',
    '0.25',
    '--export-plan',
    path.join(dir, 'plan.json'),
    '--json',
  ]);
  const write = process.stdout.write.bind(process.stdout);
  let out = '';
  process.stdout.write = ((chunk: string) => ((out += chunk), true)) as typeof process.stdout.write;
  try {
    assert.equal(await compressCommand(input, options.compress!, true), 0);
  } finally {
    process.stdout.write = write;
  }
  const result = JSON.parse(out) as { plan: string; planScript: string };
  assert.equal(result.plan, path.join(dir, 'plan.json'));
  assert.equal(result.planScript, path.join(dir, 'plan.py'));
  const plan = JSON.parse(fs.readFileSync(result.plan, 'utf8')) as RetrainingPlan;
  validate(plan);
  assert.ok(plan.layers.every((l) => l.quantization?.bits === 8));
  assert.ok(
    plan.layers.some((l) => l.structured !== null),
    'filters removed, seen against the input',
  );
  const script = fs.readFileSync(result.planScript, 'utf8');
  assert.match(script, /PLAN_FILE = os\.path\.join\(.*"plan\.json"\)/);
  assert.match(script, /FakeQuantize/);
  assert.match(script, /prune\.l1_unstructured/);
});

const RESNET18 = path.join(SHARED_MODELS_DIR, 'resnet18.onnx');

/** torchvision.models.resnet18()'s Conv2d and Linear modules. */
const TORCHVISION_RESNET18 = [
  'conv1',
  ...[1, 2, 3, 4].flatMap((s) => [
    ...[0, 1].flatMap((b) => [`layer${s}.${b}.conv1`, `layer${s}.${b}.conv2`]),
    ...(s > 1 ? [`layer${s}.0.downsample.0`] : []),
  ]),
  'fc',
];

test(
  'resnet18: module paths are torchvision names',
  { skip: fs.existsSync(RESNET18) ? false : 'no ../shared/models/resnet18.onnx' },
  () => {
    const loaded = loadModelFile(RESNET18);
    const quantized = quantizeWeights(loaded.model, { bits: 8 }, loaded.external).model;
    const plan = retrainingPlan(quantized, loaded.external, loaded.model);
    validate(plan);
    assert.equal(TORCHVISION_RESNET18.length, 21);
    assert.deepEqual(plan.layers.map((l) => l.module).sort(), [...TORCHVISION_RESNET18].sort());
    // BatchNorm folded by the exporter: the convs' weights are onnx::Conv_*, found by node name.
    assert.equal(layerOf(plan, 'layer1.0.conv1').moduleFrom, 'node');
    assert.equal(layerOf(plan, 'fc').moduleFrom, 'weight');
    assert.ok(plan.layers.every((l) => l.quantization?.bits === 8 && l.structured === null));
    assert.ok(
      plan.layers.every((l) => l.sparsity === 0),
      'int8 rounding zeros are not pruning',
    );
  },
);

/** A Python with PyTorch: $PYTHON, python3, or Debian's /usr/bin/python3. */
function torchPython(): string | undefined {
  const candidates = [process.env.PYTHON, 'python3', '/usr/bin/python3'].filter(
    (p): p is string => !!p,
  );
  return candidates.find(
    (p) => spawnSync(p, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0,
  );
}

const PYTHON = torchPython();

/** The nn.Module the tiny model would be the export of. */
const TINY_MODULE = `
import torch
from torch import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(8, 8, 3, padding=1)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.conv1(x))


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.relu = nn.ReLU()
        self.layer1 = nn.Sequential(Block())
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        x = self.layer1(self.relu(self.conv1(x)))
        return self.fc(torch.flatten(x.mean((2, 3), keepdim=True), 1))


def build():
    torch.manual_seed(0)
    return Tiny()
`;

test(
  'the generated script puts fake-quant and pruning masks on the planned modules',
  { skip: PYTHON ? false : 'no Python with PyTorch (python3 -c "import torch")' },
  async () => {
    const { original, model } = await compressedTiny();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plan-py-'));
    const plan = retrainingPlan(model, undefined, original);
    const script = writePlanFiles(plan, path.join(dir, 'tiny-plan.json'));
    assert.equal(script, path.join(dir, 'tiny_plan.py'), 'a name Python can import');
    fs.writeFileSync(path.join(dir, 'tiny.py'), TINY_MODULE);
    const run = spawnSync(PYTHON!, [script, 'tiny:build', '--input', '2x3x8x8'], {
      cwd: dir,
      env: { ...process.env, PYTHONPATH: dir },
      encoding: 'utf8',
    });
    assert.equal(run.status, 0, run.stderr);
    const summary = JSON.parse(run.stdout) as {
      layers: Record<
        string,
        { sparsity: number; bits?: number; quant_min?: number; quant_max?: number; levels?: number }
      >;
      float: string[];
      missing: string[];
      activations: Record<string, { tensor: string; min: number; max: number }>;
      forward: boolean;
    };
    assert.deepEqual(summary.missing, []);
    assert.deepEqual(summary.float, ['fc']);
    assert.equal(summary.forward, true);
    const conv1 = summary.layers['conv1'];
    assert.equal(conv1.bits, 4);
    assert.deepEqual([conv1.quant_min, conv1.quant_max], [-7, 7]);
    assert.equal(conv1.sparsity, 0.25, '2 of 8 filters masked');
    assert.ok(conv1.levels! <= 15, `${conv1.levels} levels per filter at 4 bits`);
    const block = summary.layers['layer1.0.conv1'];
    assert.equal(block.bits, 6);
    assert.deepEqual([block.quant_min, block.quant_max], [-31, 31]);
    assert.ok(Math.abs(block.sparsity - 0.5) < 0.01, `mask sparsity ${block.sparsity}`);
    assert.ok(block.levels! <= 63);
    assert.equal(summary.layers['fc'].bits, undefined);
    assert.deepEqual(Object.keys(summary.activations).sort(), ['conv1', 'fc', 'layer1.0.conv1']);
    assert.equal(summary.activations['layer1.0.conv1'].min, 0);

    // Fine-tune a few steps through the fake-quant and masks, then finalize.
    const train = spawnSync(
      PYTHON!,
      [
        '-c',
        [
          'import json, torch, tiny',
          'import tiny_plan as plan',
          'm = tiny.build(); plan.apply_plan(m)',
          'opt = torch.optim.SGD(m.parameters(), lr=0.01)',
          'for _ in range(3):',
          '    loss = m(torch.randn(4, 3, 8, 8)).pow(2).mean()',
          '    opt.zero_grad(); loss.backward(); opt.step()',
          'plan.finalize(m)',
          'w = m.layer1[0].conv1.weight',
          'print(json.dumps({"parameter": isinstance(w, torch.nn.Parameter),',
          '  "zeros": float((w == 0).float().mean()),',
          '  "levels": max(int(torch.unique(r).numel()) for r in w.reshape(8, -1)),',
          '  "filters": int((m.conv1.weight.abs().sum((1, 2, 3)) == 0).sum())}))',
        ].join('\n'),
      ],
      { cwd: dir, env: { ...process.env, PYTHONPATH: dir }, encoding: 'utf8' },
    );
    assert.equal(train.status, 0, train.stderr);
    const trained = JSON.parse(train.stdout) as Record<string, number | boolean>;
    assert.equal(trained.parameter, true, 'finalize leaves plain parameters');
    assert.ok(Math.abs((trained.zeros as number) - 0.5) < 0.01, `zeros ${trained.zeros}`);
    assert.ok((trained.levels as number) <= 63, `${trained.levels} levels at 6 bits`);
    assert.equal(trained.filters, 2, 'the removed filters stay zero');
  },
);

test('grid weights: the plan names the grid, and the script trains each on its own levels', async (t) => {
  let model = quantizeWeights(tinyModel(), {
    bits: 8,
    grid: 'ternary',
    layers: ['/conv1/Conv'],
  }).model;
  model = quantizeWeights(model, {
    bits: 5,
    grid: 'pow2',
    layers: ['/layer1/layer1.0/conv1/Conv'],
  }).model;
  model = quantizeWeights(model, { bits: 8, grid: 'binary', layers: ['/fc/Gemm'] }).model;
  const plan = retrainingPlan(model);
  validate(plan);
  const grids = plan.layers.map((l) => [
    l.module,
    l.quantization?.grid,
    l.quantization?.bits,
    l.quantization?.quantMin,
    l.quantization?.quantMax,
  ]);
  assert.deepEqual(grids, [
    ['conv1', 'ternary', 2, -1, 1],
    ['layer1.0.conv1', 'pow2', 5, -8, 8],
    ['fc', 'binary', 1, -1, 1],
  ]);
  assert.ok(
    plan.layers.every((l) => l.sparsity === 0),
    'ternary zeros are not pruning',
  );
  if (!PYTHON) return t.skip('no Python with PyTorch (python3 -c "import torch")');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plan-grid-'));
  const script = writePlanFiles(plan, path.join(dir, 'plan.json'));
  fs.writeFileSync(path.join(dir, 'tiny.py'), TINY_MODULE);
  const run = spawnSync(PYTHON, [script, 'tiny:build', '--input', '2x3x8x8'], {
    cwd: dir,
    env: { ...process.env, PYTHONPATH: dir },
    encoding: 'utf8',
  });
  assert.equal(run.status, 0, run.stderr);
  const summary = JSON.parse(run.stdout) as { layers: Record<string, { levels: number }> };
  assert.ok(summary.layers['conv1'].levels <= 3, 'ternary: -α, 0, α');
  assert.ok(summary.layers['layer1.0.conv1'].levels <= 9, 'pow2 5 bits: 0, ±1 … ±8');
  assert.ok(summary.layers['fc'].levels <= 2, 'binary: ±α');
});

test('float16 and bfloat16 weights are planned like float32 ones', () => {
  for (const format of ['fp16', 'bf16'] as const) {
    const half = convertFloat(tinyModel(), { format }).model;
    const plan = retrainingPlan(half);
    validate(plan);
    assert.deepEqual(
      plan.layers.map((l) => [l.module, l.quantization]),
      [
        ['conv1', null],
        ['layer1.0.conv1', null],
        ['fc', null],
      ],
      format,
    );
  }
  const quantized = quantizeWeights(convertFloat(tinyModel(), { format: 'bf16' }).model, {
    bits: 8,
  }).model;
  const plan = retrainingPlan(quantized);
  assert.deepEqual(
    plan.layers.map((l) => [l.module, l.quantization?.bits]),
    [
      ['conv1', 8],
      ['layer1.0.conv1', 8],
      ['fc', 8],
    ],
  );
});

test('ternary and binary weights stored in int2 (opset 25) are read at 2 bits', () => {
  let model = quantizeWeights(tinyModel(25), {
    bits: 8,
    grid: 'ternary',
    layers: ['/conv1/Conv'],
  }).model;
  model = quantizeWeights(model, { bits: 8, grid: 'binary', layers: ['/fc/Gemm'] }).model;
  const plan = retrainingPlan(model);
  validate(plan);
  assert.deepEqual(
    plan.layers.map((l) => [
      l.module,
      l.quantization?.storage,
      l.quantization?.grid,
      l.quantization?.bits,
    ]),
    [
      ['conv1', 'int2', 'ternary', 2],
      ['layer1.0.conv1', undefined, undefined, undefined],
      ['fc', 'int2', 'binary', 1],
    ],
  );
});

/** torchvision.models.resnet18's module tree (torchvision itself need not be installed). */
const RESNET18_MODULE = `
from torch import nn


class BasicBlock(nn.Module):
    def __init__(self, inp, out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(out, out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out)
        self.downsample = None
        if stride != 1 or inp != out:
            self.downsample = nn.Sequential(
                nn.Conv2d(inp, out, 1, stride, bias=False), nn.BatchNorm2d(out)
            )

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(y)) + identity)


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        widths = [(64, 64, 1), (64, 128, 2), (128, 256, 2), (256, 512, 2)]
        for i, (inp, out, stride) in enumerate(widths):
            layer = nn.Sequential(BasicBlock(inp, out, stride), BasicBlock(out, out, 1))
            setattr(self, "layer%d" % (i + 1), layer)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, 1000)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def resnet18():
    return ResNet()
`;

test(
  "resnet18's plan applies to torchvision's resnet18 module tree in PyTorch",
  {
    skip: !PYTHON
      ? 'no Python with PyTorch (python3 -c "import torch")'
      : fs.existsSync(RESNET18)
        ? false
        : 'no ../shared/models/resnet18.onnx',
  },
  () => {
    const loaded = loadModelFile(RESNET18);
    let model = pruneUnstructured(loaded.model, { sparsity: 0.5, scope: 'layer' }).model;
    model = quantizeWeights(model, { bits: 4 }, loaded.external).model;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plan-resnet-'));
    const script = writePlanFiles(
      retrainingPlan(model, loaded.external, loaded.model),
      path.join(dir, 'plan.json'),
    );
    fs.writeFileSync(path.join(dir, 'tv_resnet.py'), RESNET18_MODULE);
    const run = spawnSync(PYTHON!, [script, 'tv_resnet:resnet18', '--input', '1x3x64x64'], {
      cwd: dir,
      env: { ...process.env, PYTHONPATH: dir },
      encoding: 'utf8',
    });
    assert.equal(run.status, 0, run.stderr);
    const summary = JSON.parse(run.stdout) as {
      layers: Record<string, { sparsity: number; bits?: number; levels?: number }>;
      missing: string[];
      float: string[];
    };
    assert.deepEqual(summary.missing, []);
    assert.deepEqual(summary.float, []);
    assert.deepEqual(Object.keys(summary.layers).sort(), [...TORCHVISION_RESNET18].sort());
    for (const [module, layer] of Object.entries(summary.layers)) {
      assert.equal(layer.bits, 4, module);
      assert.ok(
        Math.abs(layer.sparsity - 0.5) < 0.01,
        `${module}: mask sparsity ${layer.sparsity}`,
      );
      assert.ok(layer.levels! <= 15, `${module}: ${layer.levels} levels`);
    }
  },
);

test('the script embeds the plan file name and no Python is needed to write it', () => {
  const plan = retrainingPlan(tinyModel());
  const text = planScript(plan, { planFile: 'my plan.json' });
  assert.match(text, /"my plan\.json"/);
  assert.match(text, /from my_plan import apply_plan, finalize/);
  assert.equal(planScriptPath('/models/resnet18.plan.json'), '/models/resnet18_plan.py');
  assert.equal(planScriptPath('plan.json'), 'plan.py');
  assert.match(text, /def apply_plan\(model, plan=None, activations=True\):/);
});
