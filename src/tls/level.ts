/** @module The TLS ladder a hop reaches: plaintext < encrypted < verified. */

export type TlsLevel = 'none' | 'encrypted' | 'verified';

const RANK: Record<TlsLevel, number> = { none: 0, encrypted: 1, verified: 2 };

/** Whether a reached level satisfies a required minimum. */
export function meets(reached: TlsLevel, minimum: TlsLevel): boolean {
  return RANK[reached] >= RANK[minimum];
}
