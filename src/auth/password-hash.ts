/**
 * @module Password hashes for the users file: scrypt through node:crypto, its parameters kept
 * inside the hash string (`scrypt$N=…,r=…,p=…$salt$hash`, base64), compared in constant time.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const scrypt = (
  password: string,
  salt: Buffer,
  keylen: number,
  options: ScryptOptions,
): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    scryptCb(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key)));
  });

export interface ScryptParams {
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

/**
 * N=2^15, r=8, p=1: 32 MiB and tens of milliseconds per check, so a burst of logins stays
 * bounded in memory. Each hash carries its parameters: raising them later needs no new format.
 */
export const DEFAULT_PARAMS: ScryptParams = { N: 32768, r: 8, p: 1 };
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;

function maxmem(params: ScryptParams): number {
  return 128 * params.N * params.r * params.p + 2 * 1024 * 1024;
}

export async function hashPassword(
  password: string,
  params: ScryptParams = DEFAULT_PARAMS,
): Promise<string> {
  const salt = randomBytes(SALT_LENGTH);
  const key = await scrypt(password, salt, KEY_LENGTH, { ...params, maxmem: maxmem(params) });
  return `scrypt$N=${params.N},r=${params.r},p=${params.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export interface ParsedHash {
  readonly params: ScryptParams;
  readonly salt: Buffer;
  readonly key: Buffer;
}

/** Undefined when the string is not a hash this module made (the users file reports the line). */
export function parseHash(text: string): ParsedHash | undefined {
  const m =
    /^scrypt\$N=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/.exec(text);
  if (!m) return undefined;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // N a power of two; bounds keep a hostile users file from asking for gigabytes per check.
  if (N < 1024 || N > 1_048_576 || (N & (N - 1)) !== 0 || r < 1 || r > 32 || p < 1 || p > 16)
    return undefined;
  const salt = Buffer.from(m[4] ?? '', 'base64');
  const key = Buffer.from(m[5] ?? '', 'base64');
  if (salt.length < 8 || key.length < 16) return undefined;
  return { params: { N, r, p }, salt, key };
}

/** Constant-time comparison of the derived key (timingSafeEqual). */
export async function verifyPassword(password: string, hash: ParsedHash): Promise<boolean> {
  const derived = await scrypt(password, hash.salt, hash.key.length, {
    ...hash.params,
    maxmem: maxmem(hash.params),
  });
  return timingSafeEqual(derived, hash.key);
}
