/**
 * The PyTorch script that applies a retraining plan (retrainingPlan.ts) to the user's nn.Module
 * for quantization-aware fine-tuning: per planned layer, pruning masks (torch.nn.utils.prune:
 * L1-structured for removed filters, L1-unstructured to the planned sparsity) and a weight
 * FakeQuantize (torch.ao.quantization) with the planned quant_min/quant_max, applied by a forward
 * pre-hook after the mask; calibrated activation ranges become input FakeQuantize modules
 * started at the calibrated range. Generated text only: Model Lens itself runs no Python.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { RetrainingPlan } from './retrainingPlan';

export interface PlanScriptOptions {
  /** The plan's file name, resolved next to the script (default plan.json). */
  readonly planFile?: string;
}

export function planScript(plan: RetrainingPlan, options: PlanScriptOptions = {}): string {
  const planFile = options.planFile ?? 'plan.json';
  const module = path.basename(planScriptPath(planFile), '.py');
  const quantized = plan.layers.filter((l) => l.quantization).length;
  const pruned = plan.layers.filter((l) => l.sparsity > 0 || l.structured).length;
  return `#!/usr/bin/env python3
"""Retraining plan from Model Lens: re-applies a compressed ONNX model's decisions to the
PyTorch module it was exported from, for quantization-aware fine-tuning.

Plan: ${JSON.stringify(planFile)} (next to this file): ${plan.layers.length} layers, ${quantized} quantized, ${pruned} pruned,
${plan.activations.length} calibrated activation ranges.

    from ${module} import apply_plan, finalize    # this file
    model = MyNet(); model.load_state_dict(torch.load("float.pt"))
    summary = apply_plan(model)              # masks + fake-quant on the planned modules
    ...fine-tune as usual...
    finalize(model)                          # masks made permanent, weights on their grid

Or check the mapping from the command line (a factory returning your module):

    python3 ${module}.py my_package.models:build_model [--input 1x3x224x224]

Weights on a multiplier-free grid (pow2, ternary, binary) train through GridFakeQuant.
Layers are found by module path (ONNX node /layer1/layer1.0/conv1/Conv -> layer1.0.conv1).
Removed filters are masked by index when the plan lists them (Model Lens's own structured
pruning records them), else the planned number with the smallest L1 norm; unstructured masks
are recomputed on your weights by magnitude (L1) to the planned sparsity.
Needs PyTorch (torch.ao.quantization, torch.nn.utils.prune).
"""
import json
import os
import sys

import torch
from torch import nn
from torch.nn.utils import prune
from torch.ao.quantization import (
    FakeQuantize,
    MovingAverageMinMaxObserver,
    MovingAveragePerChannelMinMaxObserver,
)

PLAN_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), ${JSON.stringify(planFile)})
PLAN_FORMAT = ${JSON.stringify(plan.format)}


def load_plan(path=None):
    with open(path or PLAN_FILE, encoding="utf-8") as f:
        plan = json.load(f)
    if plan.get("format") != PLAN_FORMAT:
        raise ValueError("%s is not a Model Lens retraining plan" % (path or PLAN_FILE))
    return plan


def _dtype(signed, bits):
    if bits > 8:
        return torch.qint32
    return torch.qint8 if signed else torch.quint8


class GridFakeQuant(nn.Module):
    """Multiplier-free grids per output channel, with straight-through gradients: pow2
    (0, +-2^k * s, k in 0..bits-2, s = max|w| / 2^(bits-2), rounded in the log domain), ternary
    (TWN: +-alpha beyond 0.7 * mean|w|, else 0), binary (XNOR-Net: +-mean|w|)."""

    def __init__(self, grid, bits, ch_axis):
        super().__init__()
        self.grid = grid
        self.bits = bits
        self.ch_axis = ch_axis

    def forward(self, w):
        dims = [d for d in range(w.dim()) if d != self.ch_axis]
        a = w.abs()
        if self.grid == "binary":
            alpha = a.mean(dim=dims, keepdim=True)
            q = torch.where(w >= 0, alpha, -alpha)
        elif self.grid == "ternary":
            keep = (a > 0.7 * a.mean(dim=dims, keepdim=True)).to(w.dtype)
            count = keep.sum(dim=dims, keepdim=True).clamp(min=1)
            q = torch.sign(w) * keep * (a * keep).sum(dim=dims, keepdim=True) / count
        else:
            top = self.bits - 2
            s = (a.amax(dim=dims, keepdim=True) / 2**top).clamp(min=1e-12)
            r = a / s
            k = torch.round(torch.log2(r.clamp(min=1e-12))).clamp(0, top)
            q = torch.sign(w) * torch.where(r < 0.5, torch.zeros_like(r), 2**k) * s
        # Exactly q forward (w - w.detach() is 0), the identity backward.
        return q.detach() + (w - w.detach())


def _weight_fake_quant(q, module):
    signed = q["signed"]
    symmetric = q["symmetric"]
    kwargs = {}
    # torch keeps nn.Linear weights as [out, in]: axis 0 whatever the ONNX layout was.
    axis = None if q["axis"] is None else 0 if isinstance(module, nn.Linear) else q["axis"]
    if q.get("grid"):
        return GridFakeQuant(q["grid"], q["bits"], axis)
    if axis is not None:
        kwargs["ch_axis"] = axis
        observer = MovingAveragePerChannelMinMaxObserver
        qscheme = torch.per_channel_symmetric if symmetric else torch.per_channel_affine
    else:
        observer = MovingAverageMinMaxObserver
        qscheme = torch.per_tensor_symmetric if symmetric else torch.per_tensor_affine
    return FakeQuantize(
        observer=observer,
        quant_min=q["quantMin"],
        quant_max=q["quantMax"],
        dtype=_dtype(signed, q["bits"]),
        qscheme=qscheme,
        **kwargs,
    )


def _activation_fake_quant(a):
    signed = a["quantMin"] < 0
    bits = 16 if a["quantMax"] - a["quantMin"] > 255 else 8
    symmetric = signed and a["zeroPoint"] == 0
    fq = FakeQuantize(
        observer=MovingAverageMinMaxObserver,
        quant_min=a["quantMin"],
        quant_max=a["quantMax"],
        dtype=_dtype(signed, bits),
        qscheme=torch.per_tensor_symmetric if symmetric else torch.per_tensor_affine,
    )
    # Start from the calibrated range; the moving average goes on from there while training.
    fq.scale.copy_(torch.tensor([a["scale"]]))
    fq.zero_point.copy_(torch.tensor([a["zeroPoint"]], dtype=fq.zero_point.dtype))
    fq.activation_post_process.min_val.copy_(torch.tensor(a["min"]))
    fq.activation_post_process.max_val.copy_(torch.tensor(a["max"]))
    return fq


def _quantize_weight(module, inputs):
    # Runs after the pruning hook, which has just set module.weight = weight_orig * weight_mask.
    module.weight = module.weight_fake_quant(module.weight)


def _quantize_input(module, inputs):
    return (module.activation_fake_quant(inputs[0]),) + tuple(inputs[1:])


def _out_dim(module):
    return 1 if isinstance(module, nn.modules.conv._ConvTransposeNd) else 0


def _filter_mask(weight, dim, removed):
    mask = torch.ones_like(weight)
    return mask.index_fill_(dim, torch.tensor(removed, dtype=torch.long), 0)


def _mask_sparsity(module):
    mask = getattr(module, "weight_mask", None)
    return 0.0 if mask is None else float((mask == 0).sum()) / mask.numel()


def apply_plan(model, plan=None, activations=True):
    """Masks and fake-quant on the planned modules of model; returns what was done."""
    plan = plan if isinstance(plan, dict) else load_plan(plan)
    modules = dict(model.named_modules())
    summary = {"layers": {}, "float": [], "missing": [], "activations": {}}
    for layer in plan["layers"]:
        path = layer["module"]
        module = modules.get(path) if path is not None else None
        weight = getattr(module, "weight", None)
        if not isinstance(weight, torch.Tensor):
            summary["missing"].append(layer["node"])
            continue
        structured = layer["structured"]
        if structured:
            dim = _out_dim(module)
            if weight.shape[dim] != structured["channelsBefore"]:
                summary["missing"].append(layer["node"])
                continue
            if structured.get("removed") is not None:
                # The very filters the compressed model lacks.
                mask = _filter_mask(weight, dim, structured["removed"])
                prune.custom_from_mask(module, "weight", mask)
            else:
                removed = structured["channelsBefore"] - structured["channelsAfter"]
                prune.ln_structured(module, "weight", amount=removed, n=1, dim=dim)
        if layer["sparsity"] > 0:
            # Of the weights the structured step left, as the compressed model counts them.
            prune.l1_unstructured(module, "weight", amount=layer["sparsity"])
        q = layer["quantization"]
        entry = {"node": layer["node"], "sparsity": _mask_sparsity(module)}
        if q is None:
            summary["float"].append(path)
        else:
            if not hasattr(module, "weight_orig"):
                prune.identity(module, "weight")
            module.weight_fake_quant = _weight_fake_quant(q, module)
            module._model_lens_weight_hook = module.register_forward_pre_hook(_quantize_weight)
            entry.update(bits=q["bits"], quant_min=q["quantMin"], quant_max=q["quantMax"])
        summary["layers"][path] = entry
    if activations:
        for a in plan["activations"]:
            for path in a["inputOf"]:
                module = modules.get(path)
                if module is None or hasattr(module, "activation_fake_quant"):
                    continue
                module.activation_fake_quant = _activation_fake_quant(a)
                module.register_forward_pre_hook(_quantize_input)
                summary["activations"][path] = {
                    "tensor": a["tensor"],
                    "min": a["min"],
                    "max": a["max"],
                }
    return summary


def finalize(model):
    """After fine-tuning: pruning made permanent, weights replaced by their quantized values."""
    for module in model.modules():
        hook = getattr(module, "_model_lens_weight_hook", None)
        if hook is not None:
            hook.remove()
            del module._model_lens_weight_hook
        if hasattr(module, "weight_orig"):
            prune.remove(module, "weight")
        fq = getattr(module, "weight_fake_quant", None)
        if fq is not None:
            with torch.no_grad():
                module.weight.copy_(fq(module.weight))
    return model


def _main(argv):
    if len(argv) < 2 or ":" not in argv[1]:
        print("usage: python3 %s package.module:factory [--input 1x3x224x224]" % argv[0])
        return 2
    import importlib

    name, factory = argv[1].split(":", 1)
    model = getattr(importlib.import_module(name), factory)()
    summary = apply_plan(model)
    if "--input" in argv:
        dims = [int(d) for d in argv[argv.index("--input") + 1].split("x")]
        model.train()
        with torch.no_grad():
            model(torch.randn(*dims))
        summary["forward"] = True
        # Distinct weight values per output channel in that forward pass: at most 2^bits.
        modules = dict(model.named_modules())
        for path, entry in summary["layers"].items():
            w = modules[path].weight.detach()
            w = w.transpose(0, _out_dim(modules[path])).reshape(w.shape[_out_dim(modules[path])], -1)
            entry["levels"] = max(int(torch.unique(row).numel()) for row in w)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv))
`;
}

/**
 * The script next to the plan, named so that Python can import it: plan.json → plan.py,
 * resnet18.plan.json → resnet18_plan.py.
 */
export function planScriptPath(planPath: string): string {
  const stem = path.basename(planPath).replace(/\.json$/i, '');
  const name = stem.replace(/\W/g, '_').replace(/^(?=\d)/, '_') || 'plan';
  return path.join(path.dirname(planPath), `${name}.py`);
}

/** Writes the plan as JSON and its script next to it; returns the script's path. */
export function writePlanFiles(plan: RetrainingPlan, planPath: string): string {
  const script = planScriptPath(planPath);
  fs.writeFileSync(planPath, `${JSON.stringify(plan, null, 2)}\n`);
  fs.writeFileSync(script, planScript(plan, { planFile: path.basename(planPath) }));
  return script;
}
