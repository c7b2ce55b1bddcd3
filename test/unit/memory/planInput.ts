import type { PlanInput, PlanStep } from '../../../src/core/memory';

/** A plan input from `node: inputs -> outputs` lines, so a test reads like the graph it models. */
export function graph(
  lines: readonly string[],
  bytes: Record<string, number>,
  io: { inputs?: string[]; outputs?: string[] } = {},
): PlanInput {
  const steps: PlanStep[] = lines.map((line) => {
    const [node, rest] = line.split(':');
    const [inputs, outputs] = rest
      .split('->')
      .map((side) => side.trim().split(/\s+/).filter(Boolean));
    return { node: node.trim(), inputs, outputs };
  });
  return {
    steps,
    tensorBytes: new Map(Object.entries(bytes)),
    graphInputs: io.inputs ?? [],
    graphOutputs: io.outputs ?? [],
  };
}
