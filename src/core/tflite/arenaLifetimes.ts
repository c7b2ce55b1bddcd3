/**
 * Which tensors TensorFlow Lite Micro places in its arena, how big they are and when they are
 * alive: its AllocationInfoBuilder (tensorflow/lite/micro/micro_allocation_info.cc) and the size
 * rules of memory_helpers.cc, read from a decoded model.
 *
 * Every tensor of every subgraph gets an entry, in subgraph then tensor order (the order TFLM hands
 * them to the planner, and the order an offline plan lists them in). A tensor goes in the arena
 * when its buffer has no data, it is not a variable, and it has a non-zero size. A tensor whose
 * buffer is empty is planned even if no operator writes it (a constant stripped of its data, say):
 * TFLM judges by the buffer, not by the graph.
 *
 * Lifetimes are counted in allocation scopes. Scope 0 is the start of subgraph 0, and each
 * operator opens the next scope; an IF, WHILE or CALL_ONCE operator also walks the subgraphs it
 * calls right there, each in a new scope, so their tensors are planned in the same arena.
 *   - Subgraph inputs are created at the subgraph's start and live until their last reader.
 *   - An operator's outputs are created in its scope; its inputs and outputs are last used there
 *     (after any subgraph it calls, so they outlive that subgraph's tensors).
 *   - Subgraph outputs live until the subgraph's last scope.
 *   - A tensor read but never written and not a subgraph input has first scope -1: alive from
 *     "before everything" to its last reader. One never mentioned at all is [-1, -1].
 * Variable tensors (RNN/SVDF state) go to the persistent part of the arena instead, unless the
 * offline plan gives them an offset.
 */
import { FlatBuffer, FlatBufferError, tableType } from './flatbuffer';
import { tensorTypeName } from './tensorType';
import type { Operator, Subgraph, Tensor, TfliteModel } from './types';

/** TFLM's kOnlinePlannedBuffer: an offline-plan entry that leaves the tensor to the planner. */
const ONLINE_PLANNED = -1;

export type TensorRole =
  /** Planned in the non-persistent arena. */
  | 'arena'
  /** Its buffer has data: read in place from the model (flash). */
  | 'constant'
  /** State kept across invocations, in the persistent part. */
  | 'variable'
  /** Zero bytes: nothing to place. */
  | 'empty';

export interface TensorAllocation {
  readonly subgraph: number;
  readonly tensor: number;
  readonly name: string;
  /** TFLM's TfLiteEvalTensorByteLength: elements × its bytes per element, before padding. */
  readonly bytes: number;
  readonly role: TensorRole;
  /** Allocation scopes, inclusive; -1 when the walk never marked the tensor. */
  readonly firstScope: number;
  readonly lastScope: number;
  /** Offset from the offline plan when it fixes this tensor's place in the arena. */
  readonly offlineOffset?: number;
}

/** What one allocation scope is: the start of a subgraph, or one of its operators. */
export interface AllocationScope {
  readonly subgraph: number;
  /** Operator index in that subgraph, or -1 for the subgraph's start. */
  readonly operator: number;
}

export interface AllocationInfo {
  /** Every tensor of every subgraph, subgraph 0 first. */
  readonly tensors: readonly TensorAllocation[];
  /** Indexed by scope number. */
  readonly scopes: readonly AllocationScope[];
  /** True when the model's OfflineMemoryAllocation plan is used. */
  readonly offlinePlanned: boolean;
  /** Where TFLM would refuse or misbehave, in one line each. */
  readonly warnings: readonly string[];
}

/**
 * TfLiteTypeSizeOf in tensorflow/lite/micro/memory_helpers.cc. INT4 takes a whole byte per
 * element: TFLM unpacks 4-bit tensors in the arena (only constant buffers stay packed, and those
 * are not in the arena). Types missing here (STRING, VARIANT, INT2, ...) make TFLM refuse the
 * model.
 */
const TFLM_BYTES_PER_ELEMENT: ReadonlyMap<number, number> = new Map([
  [0, 4], // FLOAT32
  [1, 2], // FLOAT16
  [2, 4], // INT32
  [3, 1], // UINT8
  [4, 8], // INT64
  [6, 1], // BOOL
  [7, 2], // INT16
  [8, 8], // COMPLEX64
  [9, 1], // INT8
  [10, 8], // FLOAT64
  [11, 16], // COMPLEX128
  [12, 8], // UINT64
  [13, 4], // RESOURCE
  [15, 4], // UINT32
  [16, 2], // UINT16
  [17, 1], // INT4
  [18, 2], // BFLOAT16
]);

/** Bytes TFLM gives a tensor (TfLiteEvalTensorByteLength), or undefined when it cannot. */
export function tflmTensorBytes(tensor: Tensor): number | undefined {
  const perElement = TFLM_BYTES_PER_ELEMENT.get(tensor.type);
  if (perElement === undefined) return undefined;
  // A scalar (no shape) has one element, as does the empty product.
  return tensor.shape.reduce((n, d) => n * Math.max(d, 0), 1) * perElement;
}

export function allocationInfo(model: TfliteModel): AllocationInfo {
  const warnings: string[] = [];
  const firstIndex: number[] = [];
  let total = 0;
  for (const sg of model.subgraphs) {
    firstIndex.push(total);
    total += sg.tensors.length;
  }
  const offline = offlineOffsets(model, total, warnings);

  const bytes: number[] = [];
  const role: TensorRole[] = [];
  const offlineOffset: (number | undefined)[] = [];
  model.subgraphs.forEach((sg) =>
    sg.tensors.forEach((t) => {
      const size = sizeOf(sg, t, warnings);
      const given = offline?.[bytes.length];
      bytes.push(size);
      role.push(roleOf(t, size, given));
      offlineOffset.push(given !== undefined && given >= 0 ? given : undefined);
      if (given !== undefined && given < ONLINE_PLANNED && role[role.length - 1] === 'arena') {
        warnings.push(`The offline plan gives ${t.name} offset ${given}; planned online here.`);
      }
    }),
  );

  const walk = new LifetimeWalk(model, firstIndex, total, warnings);
  walk.subgraph(0);

  const tensors: TensorAllocation[] = [];
  model.subgraphs.forEach((sg) =>
    sg.tensors.forEach((t) => {
      const at = firstIndex[sg.index] + t.index;
      tensors.push({
        subgraph: sg.index,
        tensor: t.index,
        name: t.name,
        bytes: bytes[at],
        role: role[at],
        firstScope: walk.first[at],
        lastScope: walk.last[at],
        ...(role[at] === 'arena' && offlineOffset[at] !== undefined
          ? { offlineOffset: offlineOffset[at] }
          : {}),
      });
    }),
  );
  checkIntermediates(model, tensors, firstIndex, warnings);
  return { tensors, scopes: walk.scopes, offlinePlanned: offline !== undefined, warnings };
}

/** micro_allocation_info.cc's needs_allocating, and micro_allocator.cc's AllocateVariables. */
function roleOf(t: Tensor, size: number, offlineOffset: number | undefined): TensorRole {
  // A variable with an offline offset is planned in the arena with the other tensors.
  if (t.isVariable) {
    return offlineOffset !== undefined && offlineOffset !== ONLINE_PLANNED ? 'arena' : 'variable';
  }
  if (t.buffer.data.length > 0) return 'constant';
  return size === 0 ? 'empty' : 'arena';
}

function sizeOf(sg: Subgraph, t: Tensor, warnings: string[]): number {
  const size = tflmTensorBytes(t);
  if (size === undefined) {
    warnings.push(
      `Tensor ${t.name} (subgraph ${sg.index}) is ${tensorTypeName(t.type)}, which TFLM cannot size: it refuses the model.`,
    );
    return 0;
  }
  if (t.shape.some((d) => d < 0)) {
    warnings.push(
      `Tensor ${t.name} has a dynamic shape [${t.shape.join(', ')}]; counted as 0 there.`,
    );
  }
  return size;
}

/** The offline plan's offset per tensor, or undefined when there is none or TFLM rejects it. */
function offlineOffsets(
  model: TfliteModel,
  tensorCount: number,
  warnings: string[],
): readonly number[] | undefined {
  const plan = model.offlineMemoryAllocation;
  if (plan === undefined) return undefined;
  if (plan.tensorCount !== tensorCount || plan.offsets.length < tensorCount) {
    warnings.push(
      `The OfflineMemoryAllocation plan lists ${plan.tensorCount} tensors but the model has ${tensorCount}: TFLM refuses it; planned online here.`,
    );
    return undefined;
  }
  return plan.offsets;
}

/** AllocationInfoBuilder::MarkAllocationLifetimes, scope by scope. */
class LifetimeWalk {
  readonly first: number[];
  readonly last: number[];
  readonly scopes: AllocationScope[] = [{ subgraph: 0, operator: -1 }];
  private scope = 0;
  /** Subgraphs being walked, to stop a subgraph that calls itself (TFLM would recurse forever). */
  private readonly active = new Set<number>();

  constructor(
    private readonly model: TfliteModel,
    private readonly firstIndex: readonly number[],
    total: number,
    private readonly warnings: string[],
  ) {
    this.first = new Array<number>(total).fill(-1);
    this.last = new Array<number>(total).fill(-1);
  }

  subgraph(index: number): void {
    const sg = this.model.subgraphs[index];
    if (sg === undefined) return;
    this.active.add(index);
    const base = this.firstIndex[index];
    const create = (t: number) => {
      if (t >= 0 && this.first[base + t] === -1) this.first[base + t] = this.scope;
    };
    const use = (t: number) => {
      if (t >= 0) this.last[base + t] = this.scope;
    };
    for (const t of sg.inputs) {
      create(t);
      use(t);
    }
    for (const op of sg.operators) {
      this.enter({ subgraph: index, operator: op.index });
      op.outputs.forEach(create);
      for (const called of calledSubgraphs(this.model, op, this.warnings)) this.call(called);
      op.inputs.forEach(use);
      op.outputs.forEach(use);
    }
    for (const t of sg.outputs) {
      create(t);
      use(t);
    }
    this.active.delete(index);
  }

  private call(index: number): void {
    if (index < 0 || index >= this.model.subgraphs.length) {
      this.warnings.push(`An operator calls subgraph ${index}, which does not exist.`);
      return;
    }
    if (this.active.has(index)) {
      this.warnings.push(`Subgraph ${index} calls itself: TFLM's planner would never finish.`);
      return;
    }
    this.enter({ subgraph: index, operator: -1 });
    this.subgraph(index);
  }

  private enter(scope: AllocationScope): void {
    this.scope++;
    this.scopes.push(scope);
  }
}

const IF = 118;
const WHILE = 119;
const CALL_ONCE = 129;

const IF_OPTIONS = tableType('IfOptions', ['then_subgraph_index', 'else_subgraph_index']);
const WHILE_OPTIONS = tableType('WhileOptions', ['cond_subgraph_index', 'body_subgraph_index']);
const CALL_ONCE_OPTIONS = tableType('CallOnceOptions', ['init_subgraph_index']);

/** The subgraphs a control-flow operator runs, in TFLM's order (then/else, cond/body, init). */
function calledSubgraphs(model: TfliteModel, op: Operator, warnings: string[]): number[] {
  const code = op.opcode.builtinCode;
  if (code !== IF && code !== WHILE && code !== CALL_ONCE) return [];
  const what = `${op.opcode.builtinName} operator ${op.index}`;
  const options = op.builtinOptions;
  if (options?.kind !== 'other') {
    warnings.push(`${what} has no options naming its subgraphs.`);
    return [];
  }
  const expected = code === IF ? IF_OPTIONS : code === WHILE ? WHILE_OPTIONS : CALL_ONCE_OPTIONS;
  if (options.union !== 1 || options.name !== expected.name) {
    // Another member's table: its fields are not subgraph indices.
    warnings.push(`${what} has ${options.name}, not ${expected.name}: its subgraphs are unknown.`);
    return [];
  }
  try {
    const fb = new FlatBuffer(model.bytes);
    if (code === IF) {
      const t = fb.table(options.tableOffset, IF_OPTIONS);
      return [t.int32('then_subgraph_index'), t.int32('else_subgraph_index')];
    }
    if (code === WHILE) {
      const t = fb.table(options.tableOffset, WHILE_OPTIONS);
      return [t.int32('cond_subgraph_index'), t.int32('body_subgraph_index')];
    }
    return [fb.table(options.tableOffset, CALL_ONCE_OPTIONS).int32('init_subgraph_index')];
  } catch (e) {
    if (!(e instanceof FlatBufferError)) throw e;
    // The reader keeps tables it does not decode as offsets; a field may still be malformed.
    warnings.push(
      `${what} has unreadable ${expected.name} (${e.message}): its subgraphs are unknown.`,
    );
    return [];
  }
}

/** TFLM's ValidateSubgraph: it refuses an operator intermediate with a non-zero size. */
function checkIntermediates(
  model: TfliteModel,
  tensors: readonly TensorAllocation[],
  firstIndex: readonly number[],
  warnings: string[],
): void {
  for (const sg of model.subgraphs) {
    for (const op of sg.operators) {
      for (const t of op.intermediates) {
        const info = tensors[firstIndex[sg.index] + t];
        if (info !== undefined && info.bytes !== 0) {
          warnings.push(
            `Operator ${op.index} (${op.opcode.builtinName}) has intermediate ${info.name} of ${info.bytes} bytes: TFLM refuses intermediates with a size.`,
          );
        }
      }
    }
  }
}
