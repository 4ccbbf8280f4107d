/**
 * @module Real Debian tools as test peers: find a binary, or skip the test naming the Debian
 * package that provides it (CI installs them all, so CI never skips), and run one with a
 * bounded time, stdin closed or fed, and its whole transcript kept.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

/** The part of a tap test these helpers use. */
export interface Plannable {
  plan(count: number, comment?: string): void;
}

/** sbin directories are searched too: Postfix lives in /usr/sbin, often not on a user's PATH. */
const EXTRA_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/** The absolute path of an executable `binary` (a name looked up on PATH, or a path), if any. */
export function findTool(binary: string): string | undefined {
  const candidates = isAbsolute(binary)
    ? [binary]
    : [...(process.env.PATH ?? '').split(delimiter).filter((d) => d !== ''), ...EXTRA_DIRS].map(
        (dir) => join(dir, binary),
      );
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here: try the next directory
    }
  }
  return undefined;
}

/**
 * Every tool a test needs, as `[binary, debianPackage]` pairs: their absolute paths, or
 * undefined after planning the test as skipped with a message naming the missing packages.
 */
export function requireTools<const Names extends string>(
  t: Plannable,
  tools: ReadonlyArray<readonly [Names, string]>,
): Record<Names, string> | undefined {
  const found: Partial<Record<Names, string>> = {};
  const missing: string[] = [];
  for (const [binary, debianPackage] of tools) {
    const path = findTool(binary);
    if (path === undefined) missing.push(`Debian package ${debianPackage} (no ${binary})`);
    else found[binary] = path;
  }
  if (missing.length > 0) {
    t.plan(0, `needs ${missing.join(', ')}`);
    return undefined;
  }
  return found as Record<Names, string>;
}

/** One tool's absolute path, or undefined after skipping the test: `needs Debian package X`. */
export function requireTool(
  t: Plannable,
  binary: string,
  debianPackage: string,
): string | undefined {
  return requireTools(t, [[binary, debianPackage]])?.[binary];
}

/** Tools that must run as root (Postfix's master drops privileges itself): skip otherwise. */
export function requireRoot(t: Plannable, why: string): boolean {
  if (process.getuid?.() === 0) return true;
  t.plan(0, `needs root: ${why}`);
  return false;
}

export interface ToolRun {
  /** Exit status, or null when the process was killed (then `signal` says why). */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** True when the time limit killed it. */
  readonly timedOut: boolean;
}

/**
 * Runs `file args` with a hard time limit (SIGKILL after `timeoutMs`), stdin fed with `input` and
 * then closed (closed at once when there is no input, so no tool ever waits on a prompt). Never
 * rejects for a non-zero exit: the caller asserts on the result.
 */
export function runTool(
  file: string,
  args: readonly string[],
  options: {
    readonly input?: string;
    readonly timeoutMs?: number;
    readonly env?: NodeJS.ProcessEnv;
    readonly cwd?: string;
  } = {},
): Promise<ToolRun> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      {
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: 16 * 1024 * 1024,
        encoding: 'utf8',
        ...(options.env !== undefined ? { env: options.env } : {}),
        ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
      },
      (error, stdout, stderr) => {
        const failure = error as
          (Error & { code?: unknown; killed?: boolean; signal?: NodeJS.Signals | null }) | null;
        if (failure && typeof failure.code === 'string') {
          // ENOENT, EACCES…: the tool never ran.
          reject(failure);
          return;
        }
        resolve({
          code: failure ? (typeof failure.code === 'number' ? failure.code : null) : 0,
          signal: failure?.signal ?? null,
          stdout,
          stderr,
          timedOut: failure?.killed === true && failure.signal === 'SIGKILL',
        });
      },
    );
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(options.input ?? '');
  });
}

/** A tool run for a failure message: the command, the exit and both streams. */
export function describeRun(file: string, args: readonly string[], run: ToolRun): string {
  return [
    `$ ${[file, ...args].join(' ')}`,
    `exit ${run.code ?? `signal ${run.signal ?? '?'}`}${run.timedOut ? ' (timed out)' : ''}`,
    '--- stdout',
    run.stdout,
    '--- stderr',
    run.stderr,
  ].join('\n');
}
