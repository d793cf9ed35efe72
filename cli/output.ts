/**
 * @module cli/output
 * What a command prints: `--output json` (the default when stdout is not a terminal: scripts and pipes) or
 * `--output table` (the default on a terminal). A list becomes one row per item; an object one row per field;
 * nested values are shown as compact JSON.
 */
import type { Command } from 'commander';

export type OutputFormat = 'json' | 'table';

export function outputFormat(cmd: Command): OutputFormat {
  const o = cmd.optsWithGlobals() as { output?: OutputFormat };
  return o.output ?? (process.stdout.isTTY ? 'table' : 'json');
}

function cell(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function clip(s: string, max = 60): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** A plain-text table; `columns` picks and orders the fields (default: the scalar fields of the first rows). */
export function table(rows: Array<Record<string, unknown>>, columns?: string[]): string {
  if (rows.length === 0) return '(none)\n';
  const cols = columns ?? [...new Set(rows.slice(0, 20).flatMap((r) => Object.keys(r).filter((k) => r[k] === null || typeof r[k] !== 'object')))];
  const data = rows.map((r) => cols.map((c) => clip(cell(r[c]))));
  const widths = cols.map((c, i) => Math.max(c.length, ...data.map((d) => d[i]!.length)));
  const line = (cells: string[]) => cells.map((x, i) => x.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(cols), line(widths.map((w) => '-'.repeat(w))), ...data.map(line)].join('\n') + '\n';
}

/** Prints a command's result in the chosen format. */
export function print(cmd: Command, value: unknown, columns?: string[]): void {
  if (outputFormat(cmd) === 'json') {
    process.stdout.write(JSON.stringify(value, null, 2) + '\n');
    return;
  }
  if (Array.isArray(value)) {
    process.stdout.write(table(value.map((v) => (v && typeof v === 'object' ? v : { value: v }) as Record<string, unknown>), columns));
  } else if (value && typeof value === 'object') {
    const rows = Object.entries(value as Record<string, unknown>).map(([field, v]) => ({ field, value: cell(v) }));
    const w = Math.max(...rows.map((r) => r.field.length));
    process.stdout.write(rows.map((r) => `${r.field.padEnd(w)}  ${r.value}`).join('\n') + '\n');
  } else {
    process.stdout.write(`${cell(value)}\n`);
  }
}
