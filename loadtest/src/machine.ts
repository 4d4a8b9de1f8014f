/**
 * What every load-test report starts with: the machine (CPU model, cores),
 * the date, the load average, and the markdown table writer they all use.
 */
import { cpus, loadavg } from 'node:os';

/** CPU model, logical cores, ISO date, 1-min load average at the time of the call. */
export interface MachineInfo {
  cpuModel: string;
  cores: number;
  date: string;
  load1: number;
}

/** The machine this runs on, now (node:os). */
export function machineInfo(): MachineInfo {
  const list = cpus();
  return { cpuModel: list[0]?.model.trim() ?? 'unknown', cores: list.length, date: new Date().toISOString(), load1: loadavg()[0] ?? 0 };
}

/** One markdown line naming the machine and date, for the top of a report. */
export function machineLine(m: MachineInfo = machineInfo()): string {
  return `Machine: ${m.cpuModel}, ${m.cores} cores; ${m.date.slice(0, 16).replace('T', ' ')} UTC; load average ${m.load1.toFixed(1)} at start.`;
}

/** A GitHub-flavoured markdown table; cells are written as given. */
export function markdownTable(headers: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]): string => `| ${cells.map(String).join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

/** `x` with `digits` decimals, or `-` when not finite. */
export function fixed(x: number, digits = 1): string {
  return Number.isFinite(x) ? x.toFixed(digits) : '-';
}
