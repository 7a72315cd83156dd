import { readFileSync } from 'node:fs';

/**
 * Peak resident set size of a local process in MiB, from `VmHWM` in /proc/<pid>/status (Linux);
 * null where that file is not readable (another OS, a process on another host, or already gone).
 */
export function peakRssMb(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** This process's peak RSS in MiB (process.resourceUsage().maxRSS is in KiB). */
export function ownPeakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}
