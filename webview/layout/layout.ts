/** Runs the engine asked for; ELK only up to ELK_NODE_LIMIT nodes, and the fast one if ELK fails. */
import { elkLayout } from './elkLayout';
import { fastLayered } from './fastLayered';
import { ELK_NODE_LIMIT, type LayoutEngine, type LayoutInput, type LayoutResult } from './types';

export async function layoutGraph(
  input: LayoutInput,
  engine: LayoutEngine = 'elk',
): Promise<LayoutResult> {
  if (engine === 'elk' && input.nodes.length <= ELK_NODE_LIMIT) {
    try {
      return await elkLayout(input);
    } catch {
      // ELK recurses deeply on long graphs; the fast layout always finishes.
    }
  }
  return fastLayered(input);
}
