/** Text formatting shared by the profile summary and the reports: one number format, one table layout. */

/** Compact number: integers as is, otherwise 5 significant digits (exponent form for very small or large values). */
export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? '-' : String(x);
  if (Number.isInteger(x) && Math.abs(x) < 1e15) return String(x);
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-3 || a >= 1e9) ? x.toExponential(3) : String(Number(x.toPrecision(5)));
}

/** Rows as left-aligned text columns separated by two spaces (one string per line, the header first). */
export function formatTextTable(header: string[], rows: string[][]): string[] {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  return all.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd());
}
