/**
 * The choices of the "Prune … to a sparsity…" quick pick: unstructured sparsities, then the 2:4
 * semi-structured pattern (src/core/compress/pruneSemiStructured.ts). Shared so that the
 * extension shows them and a test can read them without VS Code.
 */
import type { Fix, PruneForecast } from './protocol';

type PruneFix = Extract<Fix, { kind: 'prune' }>;

export interface PruneChoice {
  readonly label: string;
  readonly description: string;
  /** The measured prediction for this choice, when known (a second line in the quick pick). */
  readonly detail?: string;
  /** What the choice fills into the prune fix. */
  readonly value: Pick<PruneFix, 'sparsity'> | Pick<PruneFix, 'nm'>;
}

export const SPARSITIES: readonly number[] = [0.25, 0.5, 0.75, 0.9];

/**
 * `wholeModel`: the sparsities are one global magnitude threshold over every layer, or with a
 * data folder that share of each layer, chosen by SparseGPT (src/server/quickFixes.ts); with a
 * `forecast` (effects measured on the data folder), shared among the layers by the plan of least
 * measured effect, each choice with its prediction.
 */
export function pruneChoices(
  wholeModel: boolean,
  forecast?: readonly PruneForecast[],
): PruneChoice[] {
  const planned = wholeModel && forecast !== undefined;
  return [
    ...SPARSITIES.map((v) => {
      const detail = forecast?.find((f) => f.sparsity === v)?.detail;
      return {
        label: `${Math.round(v * 100)}%`,
        description: !wholeModel
          ? 'of the weights'
          : planned
            ? 'of the weights overall (per-layer plan by measured effect)'
            : 'of the weights (one global magnitude threshold; with a data folder, of each layer)',
        ...(detail ? { detail } : {}),
        value: { sparsity: v },
      };
    }),
    {
      label: '2:4 semi-structured',
      description: wholeModel
        ? 'the 2 largest of every 4 consecutive inputs, in every layer whose input size 4 divides (NVIDIA sparse tensor cores run it at half the MACs)'
        : 'the 2 largest of every 4 consecutive inputs (NVIDIA sparse tensor cores run it at half the MACs)',
      value: { nm: { n: 2, m: 4 } },
    },
  ];
}
