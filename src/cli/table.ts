/** Aligned plain-text columns: numbers right-aligned, text left-aligned, two spaces between. */
export interface Column {
  readonly title: string;
  readonly align?: 'left' | 'right';
}

export function renderTable(
  columns: readonly Column[],
  rows: readonly (readonly string[])[],
): string[] {
  const widths = columns.map((c, i) =>
    Math.max(c.title.length, ...rows.map((r) => (r[i] ?? '').length)),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) =>
        columns[i].align === 'right' ? cell.padStart(widths[i]) : cell.padEnd(widths[i]),
      )
      .join('  ')
      .trimEnd();
  return [
    line(columns.map((c) => c.title)),
    line(widths.map((w) => '─'.repeat(w))),
    ...rows.map(line),
  ];
}
