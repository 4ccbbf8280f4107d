/** Readings of a Linux process from /proc: resident memory (current and peak) and CPU seconds. */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

function clockTicks(): number {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
}
const TICKS_PER_SECOND = clockTicks();

/** VmRSS and VmHWM (peak resident set) in MiB; zeros once the process is gone. */
export function memory(pid: number): { rssMiB: number; peakMiB: number } {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return { rssMiB: 0, peakMiB: 0 };
  }
  const kib = (field: string): number =>
    Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return { rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024 };
}

/** User and system (kernel) CPU seconds the process has used so far. */
export function cpuTimes(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name start at field 3 (state); utime is 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return {
    user: Number(fields[11]) / TICKS_PER_SECOND,
    system: Number(fields[12]) / TICKS_PER_SECOND,
  };
}

/** User + system CPU seconds the process has used so far. */
export function cpuSeconds(pid: number): number {
  const t = cpuTimes(pid);
  return t.user + t.system;
}

/** CPU seconds all processes of the machine have used so far (busy time summed over CPUs). */
export function machineBusySeconds(): number {
  const first = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = first
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  return (user + nice + system + irq + softirq + steal) / TICKS_PER_SECOND;
}

/** Samples VmRSS every `intervalMs`; `stop()` returns the highest sample in MiB. */
export function sampleRss(pid: number, intervalMs = 100): { stop(): number } {
  let max = memory(pid).rssMiB;
  const timer = setInterval(() => {
    max = Math.max(max, memory(pid).rssMiB);
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(max, memory(pid).rssMiB);
    },
  };
}

/** Pids whose parent is `pid` (from /proc/PID/stat), e.g. the daemons of a Postfix master. */
export function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return children;
}

/** utime + stime + cutime + cstime: the process and its reaped children, in seconds; 0 if gone. */
function cpuWithReaped(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/**
 * CPU seconds used so far by `root` and every child it has: a child that exits is reaped by
 * `root` and moves into its cutime/cstime, so the difference of two readings counts the work of
 * processes that came and went in between (Postfix's master reaps all its daemons).
 */
export function treeCpuSeconds(root: number): number {
  return childrenOf(root).reduce((sum, pid) => sum + cpuWithReaped(pid), cpuWithReaped(root));
}

/** VmRSS of `root` and its children, summed (shared pages count once per process). */
export function treeRssMiB(root: number): number {
  return childrenOf(root).reduce((sum, pid) => sum + memory(pid).rssMiB, memory(root).rssMiB);
}

/** Proportional set size in MiB (shared pages split among their sharers); 0 if gone. */
export function pssMiB(pid: number): number {
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    return Number(/^Pss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/**
 * PSS of `root` and its children, summed: the memory the process tree really holds, where a
 * VmRSS sum counts the pages a thousand forked daemons share a thousand times.
 */
export function treePssMiB(root: number): number {
  return childrenOf(root).reduce((sum, pid) => sum + pssMiB(pid), pssMiB(root));
}

/** Samples `read()` every `intervalMs`; `stop()` returns the highest value. */
export function samplePeak(read: () => number, intervalMs = 250): { stop(): number } {
  let max = read();
  const timer = setInterval(() => {
    max = Math.max(max, read());
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(max, read());
    },
  };
}
