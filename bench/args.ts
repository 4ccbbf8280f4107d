/** Command-line options of `npm run bench`. */
import { parseArgs } from 'node:util';
import type { Runner } from './children.js';

export interface BenchOptions {
  readonly messages: number;
  readonly connections: number;
  readonly size: number;
  readonly runs: number;
  /** One extra, unreported relay run, V8-profiled during its steady load, summarised at the end. */
  readonly profile: boolean;
  /** Where to keep that run's .cpuprofile (for Chrome DevTools); it is deleted otherwise. */
  readonly profileOut: string | undefined;
  readonly runner: Runner;
}

export const USAGE = `usage: npm run bench -- [options]
  --messages N      messages per scenario run, spread over the connections (default 2000)
  --connections C   concurrent client connections, each long-lived (default 8)
  --size BYTES      message size (default 1024)
  --runs R          runs per scenario; the table shows the median and min–max (default 3)
  --profile         then one more relay run, V8-profiled during the load; top functions printed
  --profile-out F   keep that profile as F (.cpuprofile, opens in Chrome DevTools); implies --profile
  --runner R        compiled (default: tsc into node_modules/.cache, plain node) or tsx`;

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer`);
  return n;
}

/** Parsed options, or undefined after printing the usage for --help. */
export function parseBenchArgs(argv: string[]): BenchOptions | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      messages: { type: 'string' },
      connections: { type: 'string' },
      size: { type: 'string' },
      runs: { type: 'string' },
      profile: { type: 'boolean', default: false },
      'profile-out': { type: 'string' },
      runner: { type: 'string', default: 'compiled' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return undefined;
  }
  if (values.runner !== 'compiled' && values.runner !== 'tsx') {
    throw new Error('--runner must be compiled or tsx');
  }
  const options: BenchOptions = {
    messages: positiveInt('messages', values.messages, 2000),
    connections: positiveInt('connections', values.connections, 8),
    size: positiveInt('size', values.size, 1024),
    runs: positiveInt('runs', values.runs, 3),
    profile: values.profile || values['profile-out'] !== undefined,
    profileOut: values['profile-out'],
    runner: values.runner,
  };
  if (options.size < 200) throw new Error('--size must be at least 200 bytes (headers)');
  if (options.messages < options.connections) {
    throw new Error('--messages must be at least --connections');
  }
  return options;
}
