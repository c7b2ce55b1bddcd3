/**
 * Export of the drawn view: the SVG with the theme's resolved colors written into it (the CSS
 * variables only exist inside VS Code), or a PNG rendered from that SVG through a canvas.
 */
const VARIABLES = [
  '--vscode-editor-background',
  '--vscode-foreground',
  '--vscode-font-family',
  '--edge-color',
  '--node-background',
  '--node-border',
  '--selection-color',
];

export function exportSvg(svg: SVGSVGElement, styleSheetText: string): string {
  const clone = svg.cloneNode(true) as SVGSVGElement;
  const box = (svg.querySelector('g.viewport') as SVGGElement).getBBox();
  const viewport = clone.querySelector('g.viewport');
  viewport?.removeAttribute('transform');
  clone.setAttribute('xmlns', 'http://www.w3.org/2000/svg');
  clone.setAttribute('viewBox', `${box.x - 10} ${box.y - 10} ${box.width + 20} ${box.height + 20}`);
  clone.setAttribute('width', String(Math.ceil(box.width + 20)));
  clone.setAttribute('height', String(Math.ceil(box.height + 20)));
  const computed = getComputedStyle(document.body);
  const values = VARIABLES.map((v) => `${v}: ${computed.getPropertyValue(v).trim() || 'initial'};`);
  const style = document.createElementNS('http://www.w3.org/2000/svg', 'style');
  style.textContent = `svg { ${values.join(' ')} }\n${styleSheetText}`;
  clone.insertBefore(style, clone.firstChild);
  return new XMLSerializer().serializeToString(clone);
}

export async function svgToPngBase64(
  svgText: string,
  width: number,
  height: number,
): Promise<string> {
  const url = URL.createObjectURL(new Blob([svgText], { type: 'image/svg+xml' }));
  try {
    const image = new Image();
    image.src = url;
    await image.decode();
    // Big graphs: keep the canvas within the browser's limits.
    const scale = Math.min(2, 16000 / Math.max(width, height, 1));
    const canvas = document.createElement('canvas');
    canvas.width = Math.max(1, Math.round(width * scale));
    canvas.height = Math.max(1, Math.round(height * scale));
    const ctx = canvas.getContext('2d')!;
    ctx.scale(scale, scale);
    ctx.drawImage(image, 0, 0);
    return canvas.toDataURL('image/png').replace(/^data:image\/png;base64,/, '');
  } finally {
    URL.revokeObjectURL(url);
  }
}

/** The rules of our stylesheet that apply to the graph, for the exported file. */
export function graphStyleRules(): string {
  const rules: string[] = [];
  for (const sheet of Array.from(document.styleSheets)) {
    try {
      for (const rule of Array.from(sheet.cssRules)) {
        if (/\.(node|edge|graph|viewport|badge|group)/.test(rule.cssText)) rules.push(rule.cssText);
      }
    } catch {
      // A sheet we may not read: nothing of ours.
    }
  }
  return rules.join('\n');
}
