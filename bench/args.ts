/** Command-line options of `npm run bench`: which scenarios, how many runs, the load's shape. */
import { parseArgs } from 'node:util';
import type { Runner } from './children.js';
import { SCENARIO_IDS, type ScenarioId } from './scenarios.js';

export interface BenchOptions {
  /** Messages per run of every scenario but e; the scenarios' own counts when not given. */
  readonly messagesOverride: number | undefined;
  /** Unmeasured messages before each run's measured load; the scenarios' own counts when not given. */
  readonly warmUpOverride: number | undefined;
  /** Messages per run of the scenario --profile runs (a's count unless overridden). */
  readonly messages: number;
  readonly connections: number;
  /** Small messages (a, c, d, e). */
  readonly size: number;
  /** Large messages (b). */
  readonly largeSize: number;
  /** Concurrent sessions held in e. */
  readonly sessions: number;
  readonly runs: number;
  readonly scenarios: readonly ScenarioId[];
  /** Subjects measured; Postfix is skipped (and reported so) when not installed. */
  readonly postfix: boolean;
  /** One extra, unreported relay run, V8-profiled during its steady load, summarised at the end. */
  readonly profile: boolean;
  /** Where to keep that run's .cpuprofile (for Chrome DevTools); it is deleted otherwise. */
  readonly profileOut: string | undefined;
  readonly runner: Runner;
  /** The relay's `workers` setting in every measured run (the profiled run uses one). */
  readonly workers: number | 'auto';
  /** After the scenarios, the relay alone with 1 KiB to 1 MiB messages. */
  readonly sweep: boolean;
}

export const USAGE = `usage: npm run bench -- [options]
  --scenario LIST   scenarios to run, e.g. a,c (default a,b,c,d,e):
                      a 1 KiB over long-lived sessions, STARTTLS both hops   b the same, 100 KiB
                      c a new connection + TLS handshake per message          d a, plaintext
                      e --sessions concurrent sessions held open, one message each
  --runs R          alternating runs per scenario and subject; median (min–max) (default 3)
  --messages N      messages per run for a–d (default a 2000, b 600, c 400, d 2000)
  --warm-up N       unmeasured messages before each run's measured load, so that V8 has compiled
                    the hot paths as in a relay that has been up a while; 0 measures a cold start
                    (default a 3000, b 1000, c 600, d 3000, e 3000 over --connections sessions)
  --connections C   concurrent clients in a–d (default 8)
  --sessions S      concurrent sessions in e (default 1000)
  --size BYTES      small message size (default 1024); --large-size BYTES for b (default 102400)
  --no-postfix      leave the Postfix peer out
  --profile         then one more relay run of scenario a, V8-profiled; top functions printed
  --profile-out F   keep that profile as F (.cpuprofile, opens in Chrome DevTools); implies --profile
  --sweep           then the relay alone with 1 KiB, 16 KiB, 100 KiB and 1 MiB messages: CPU per KiB
  --workers W       the relay's worker processes, a number or auto (default 1, the relay's own)
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
      'warm-up': { type: 'string' },
      connections: { type: 'string' },
      size: { type: 'string' },
      'large-size': { type: 'string' },
      sessions: { type: 'string' },
      runs: { type: 'string' },
      scenario: { type: 'string' },
      'no-postfix': { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      'profile-out': { type: 'string' },
      runner: { type: 'string', default: 'compiled' },
      workers: { type: 'string', default: '1' },
      sweep: { type: 'boolean', default: false },
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
  const scenarios = (values.scenario ?? SCENARIO_IDS.join(','))
    .split(',')
    .map((x) => x.trim().toLowerCase())
    .filter((x) => x !== '');
  const unknown = scenarios.filter((x) => !(SCENARIO_IDS as readonly string[]).includes(x));
  if (unknown.length > 0 || scenarios.length === 0) {
    throw new Error(`--scenario takes a list of ${SCENARIO_IDS.join(', ')}`);
  }
  const messagesOverride =
    values.messages === undefined ? undefined : positiveInt('messages', values.messages, 1);
  const warmUpText = values['warm-up'];
  if (warmUpText !== undefined && !/^\d+$/.test(warmUpText)) {
    throw new Error('--warm-up must be a whole number');
  }
  const options: BenchOptions = {
    messagesOverride,
    warmUpOverride: warmUpText === undefined ? undefined : Number(warmUpText),
    messages: messagesOverride ?? 2000,
    connections: positiveInt('connections', values.connections, 8),
    size: positiveInt('size', values.size, 1024),
    largeSize: positiveInt('large-size', values['large-size'], 102_400),
    sessions: positiveInt('sessions', values.sessions, 1000),
    runs: positiveInt('runs', values.runs, 3),
    scenarios: SCENARIO_IDS.filter((id) => scenarios.includes(id)),
    postfix: !values['no-postfix'],
    profile: values.profile || values['profile-out'] !== undefined,
    profileOut: values['profile-out'],
    runner: values.runner,
    workers: values.workers === 'auto' ? 'auto' : positiveInt('workers', values.workers, 1),
    sweep: values.sweep,
  };
  if (Math.min(options.size, options.largeSize) < 200) {
    throw new Error('--size and --large-size must be at least 200 bytes (headers)');
  }
  if (options.messages < options.connections) {
    throw new Error('--messages must be at least --connections');
  }
  return options;
}
