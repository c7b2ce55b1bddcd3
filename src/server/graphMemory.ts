/**
 * The tensors alive at one execution step, for the memory chart's hover: the memory planner's own
 * lifetimes (src/core/memory), so the hover lists exactly what the chart's bar and the peak count
 * (run-time tensors only; weights, constants and folded shape computations hold no activation
 * memory).
 */
import type { AnalysisReport } from '../core/analyze';

export function liveTensorsAt(
  report: AnalysisReport,
  step: number,
): { name: string; bytes: number }[] {
  return report.memory.lifetimes
    .filter((t) => t.bytes > 0 && t.firstStep <= step && step <= t.lastStep)
    .map((t) => ({ name: t.name, bytes: t.bytes }))
    .sort((a, b) => b.bytes - a.bytes);
}
