/** Summarises a V8 .cpuprofile: self time by function and by where the code lives. */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Native frames of socket writes (TLS encryption, the write syscall, and any preemption in it). */
const SOCKET_WRITES = new Set(['writeBuffer', 'writeUtf8String', 'writeLatin1String', 'writev']);

export interface ProfileSummary {
  readonly totalMs: number;
  readonly socketWritesMs: number;
  readonly functions: ReadonlyArray<{ readonly name: string; readonly ms: number }>;
  readonly areas: ReadonlyArray<{ readonly name: string; readonly ms: number }>;
}

/** Where a frame's code lives: a package, a Node internal area, our src file, or a V8 pseudo-frame. */
function area(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg?.[1] !== undefined && !url.includes('.cache/starttls-relay-bench')) return pkg[1];
  const src = /\/(src\/[^?]+)$/.exec(url);
  if (src?.[1] !== undefined) return src[1].replace(/\.js$/, '');
  const internal = /^node:internal\/([^/]+(?:\/[^/]+)?)/.exec(url);
  if (internal?.[1] !== undefined) return `node:${internal[1]}`;
  return url.replace(/^file:\/\/.*\//, '');
}

function top(map: Map<string, number>, n: number): Array<{ name: string; ms: number }> {
  return [...map.entries()]
    .map(([name, ms]) => ({ name, ms }))
    .sort((a, b) => b.ms - a.ms)
    .slice(0, n);
}

export function summariseProfile(path: string, n = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const functions = new Map<string, number>();
  const areas = new Map<string, number>();
  let totalMs = 0;
  let socketWritesMs = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    if (!node || node.callFrame.functionName === '(idle)') return;
    const { functionName, url, lineNumber } = node.callFrame;
    const where = area(url, functionName);
    const name =
      url === '' ? functionName : `${functionName || '(anonymous)'} ${where}:${lineNumber + 1}`;
    functions.set(name, (functions.get(name) ?? 0) + ms);
    areas.set(where, (areas.get(where) ?? 0) + ms);
    totalMs += ms;
    if (url === '' && SOCKET_WRITES.has(functionName)) socketWritesMs += ms;
  });
  return { totalMs, socketWritesMs, functions: top(functions, n), areas: top(areas, n) };
}
