/** @module The pino root logger: JSON lines on stdout, credentials redacted wherever they appear. */
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** Paths whose values are never written, at any depth we log (DESIGN invariant 4). */
const REDACT = [
  'password',
  'pass',
  'credentials',
  'auth',
  '*.password',
  '*.pass',
  '*.credentials',
  '*.auth',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'starttls-relay' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT, censor: '[redacted]' },
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return destination ? pino(options, destination) : pino(options);
}
