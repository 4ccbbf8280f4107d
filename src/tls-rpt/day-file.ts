/**
 * @module A day's counts on disk: `<directory>/YYYY-MM-DD.json`, written whole to a temporary file
 * and renamed over the old one, so a reader (the CLI) or a restart sees the last complete write.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { isDay } from './day.js';
import { POLICY_TYPES, RESULT_TYPES, type DomainAggregate } from './model.js';

/** Bumped when the layout changes; a file of another version is not read. */
const FORMAT = 1;

const count = z.number().int().min(0);
const detail = z.strictObject({
  resultType: z.enum(RESULT_TYPES),
  sendingMtaIp: z.string().optional(),
  receivingMxHostname: z.string().optional(),
  receivingIp: z.string().optional(),
  failureReasonCode: z.string().optional(),
  count,
});
const policy = z.strictObject({
  type: z.enum(POLICY_TYPES).refine((t) => t !== 'tlsa'),
  string: z.array(z.string()).optional(),
  mxHost: z.array(z.string()).optional(),
});
const dayFile = z.strictObject({
  format: z.literal(FORMAT),
  date: z.string().refine(isDay),
  /** Claimed for reporting: the reports of this day were (being) written. */
  reported: z.boolean(),
  domains: z.array(
    z.strictObject({
      policyDomain: z.string().min(1),
      policies: z.array(
        z.strictObject({
          policy,
          successful: count,
          failed: count,
          detailsDropped: count,
          failureDetails: z.array(detail),
        }),
      ),
    }),
  ),
});

export interface DayFile {
  readonly date: string;
  readonly reported: boolean;
  readonly domains: readonly DomainAggregate[];
}

/** Drops the keys whose value is undefined (zod's optional keys under exactOptionalPropertyTypes). */
function defined<T extends object>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]: Exclude<T[K], undefined>;
  };
}

export function dayFilePath(directory: string, date: string): string {
  return join(directory, `${date}.json`);
}

/** The file's content, or an error saying why it cannot be used. */
export function parseDayFile(text: string): DayFile | { error: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { error: `not JSON: ${(err as Error).message}` };
  }
  const parsed = dayFile.safeParse(json);
  if (!parsed.success) return { error: parsed.error.issues[0]?.message ?? 'invalid' };
  const f = parsed.data;
  return {
    date: f.date,
    reported: f.reported,
    domains: f.domains.map((d) => ({
      policyDomain: d.policyDomain,
      policies: d.policies.map((p) => ({
        ...p,
        policy: defined(p.policy),
        failureDetails: p.failureDetails.map((r) => defined(r)),
      })),
    })),
  };
}

/** One day read back; undefined when there is no file for it. Throws for an unusable file. */
export async function readDayFile(directory: string, date: string): Promise<DayFile | undefined> {
  let text: string;
  try {
    text = await readFile(dayFilePath(directory, date), 'utf8');
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return undefined;
    throw err;
  }
  const parsed = parseDayFile(text);
  if ('error' in parsed) throw new Error(`${dayFilePath(directory, date)}: ${parsed.error}`);
  return parsed;
}

/** The days that have a file, oldest first. */
export async function listDayFiles(directory: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(directory);
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return [];
    throw err;
  }
  return names
    .filter((n) => n.endsWith('.json') && isDay(n.slice(0, -5)))
    .map((n) => n.slice(0, -5))
    .sort();
}

/** Writes the day atomically: a temporary file in the same directory, renamed over the old one. */
export async function writeDayFile(directory: string, file: DayFile): Promise<void> {
  await mkdir(directory, { recursive: true });
  const path = dayFilePath(directory, file.date);
  const tmp = `${path}.${process.pid}.tmp`;
  const body = { format: FORMAT, date: file.date, reported: file.reported, domains: file.domains };
  await writeFile(tmp, `${JSON.stringify(body)}\n`, { mode: 0o640 });
  await rename(tmp, path);
}

export async function removeDayFile(directory: string, date: string): Promise<void> {
  await rm(dayFilePath(directory, date), { force: true });
}
