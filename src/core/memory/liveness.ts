/**
 * When each activation tensor is alive, in steps of the execution order.
 *
 * A tensor is live from the step that produces it to the last step that reads it, both inclusive
 * (conventions.md, "Peak activation RAM"). Graph inputs are live from step 0 and graph outputs to
 * the last step, because the caller owns them for the whole run. An output that nothing reads is
 * live only while its producer runs: the runtime still has to write it somewhere.
 *
 * Only tensors in `tensorBytes` are planned. Constants and weights are not in it and are ignored,
 * and a tensor in it that no step, input or output mentions is not part of the run, so it is left
 * out too.
 */

export interface PlanStep {
  node: string;
  inputs: readonly string[];
  outputs: readonly string[];
}

export interface PlanInput {
  /** Nodes in execution order. */
  steps: readonly PlanStep[];
  /** Bytes of every activation tensor to place; constants and weights are not in this map. */
  tensorBytes: ReadonlyMap<string, number>;
  /** Live for the whole run. */
  graphInputs: readonly string[];
  /** Live for the whole run. */
  graphOutputs: readonly string[];
}

/** `firstStep` and `lastStep` are inclusive step indices. */
export interface TensorLifetime {
  name: string;
  bytes: number;
  firstStep: number;
  lastStep: number;
}

interface Span {
  first: number;
  last: number;
}

export function computeLifetimes(input: PlanInput): TensorLifetime[] {
  const { steps, tensorBytes } = input;
  const lastStepOfRun = Math.max(0, steps.length - 1);
  const spans = new Map<string, Span>();

  const touch = (name: string, first: number, last: number): void => {
    if (!tensorBytes.has(name)) return;
    const span = spans.get(name);
    if (span === undefined) {
      spans.set(name, { first, last });
    } else {
      span.first = Math.min(span.first, first);
      span.last = Math.max(span.last, last);
    }
  };

  steps.forEach((step, index) => {
    for (const name of step.outputs) touch(name, index, index);
  });
  // A tensor read but produced by no step comes from outside the nodes (a graph input the caller
  // forgot to list, say), so it is there from the start.
  steps.forEach((step, index) => {
    for (const name of step.inputs) {
      if (spans.has(name)) touch(name, index, index);
      else touch(name, 0, index);
    }
  });
  for (const name of input.graphInputs) touch(name, 0, lastStepOfRun);
  for (const name of input.graphOutputs) touch(name, 0, lastStepOfRun);

  const lifetimes: TensorLifetime[] = [];
  for (const [name, span] of spans) {
    lifetimes.push({
      name,
      bytes: checkedBytes(name, tensorBytes.get(name) ?? 0),
      firstStep: span.first,
      lastStep: span.last,
    });
  }
  return lifetimes;
}

function checkedBytes(name: string, bytes: number): number {
  if (!Number.isFinite(bytes) || bytes < 0) {
    throw new RangeError(`Tensor '${name}' has ${bytes} bytes; expected a finite number ≥ 0.`);
  }
  return bytes;
}

/**
 * Live activation bytes at each step, by a sweep: add a tensor's bytes where it starts, subtract
 * them one step after it ends, and take running sums. The maximum is a lower bound on any arena,
 * since everything alive at that step must sit in distinct bytes.
 */
export function liveBytesPerStep(
  lifetimes: readonly TensorLifetime[],
  stepCount: number,
): number[] {
  const length = lifetimes.reduce((n, t) => Math.max(n, t.lastStep + 1), stepCount);
  const change = new Array<number>(length + 1).fill(0);
  for (const t of lifetimes) {
    change[t.firstStep] += t.bytes;
    change[t.lastStep + 1] -= t.bytes;
  }
  const live: number[] = [];
  let running = 0;
  for (let step = 0; step < length; step++) {
    running += change[step];
    live.push(running);
  }
  return live;
}
