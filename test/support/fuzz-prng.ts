/**
 * @module A small seeded PRNG (mulberry32) for fault sweeps and fuzzing: the same seed gives the
 * same cases on every machine, so a failure is reproduced from the seed it prints.
 */

export interface Prng {
  readonly seed: number;
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [min, max] (both included). */
  int(min: number, max: number): number;
  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T;
  /** True with probability `p`. */
  chance(p: number): boolean;
  /** `n` random bytes. */
  bytes(n: number): Buffer;
}

export function prng(seed: number): Prng {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number): number => min + Math.floor(next() * (max - min + 1));
  return {
    seed,
    next,
    int,
    pick<T>(items: readonly T[]): T {
      const item = items[int(0, items.length - 1)];
      if (item === undefined) throw new Error('pick from an empty array');
      return item;
    },
    chance: (p) => next() < p,
    bytes(n) {
      const out = Buffer.alloc(n);
      for (let i = 0; i < n; i += 1) out[i] = int(0, 255);
      return out;
    },
  };
}

/** Seeds from `FUZZ_SEEDS=1,2,3` when set (to reproduce a failure), else the fixed CI seeds. */
export function seedsFromEnv(fixed: readonly number[]): readonly number[] {
  const raw = process.env.FUZZ_SEEDS;
  if (raw === undefined || raw.trim() === '') return fixed;
  return raw.split(',').map((s) => Number.parseInt(s.trim(), 10));
}
