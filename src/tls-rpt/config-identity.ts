/**
 * @module Who the reports say they are from, read from the relay's config: `outbound.tlsRpt`'s
 * `organization` and `contact`, else derived from `hostname`, which also tells this instance's
 * reports apart (file names and `report-id`).
 */
import type { Config } from '../config/schema.js';
import type { ReporterIdentity } from './report.js';

/** `instance`: a worker process's index, which keeps its own counts and reports (src/cluster). */
export function identityFromConfig(config: Config, instance?: number): ReporterIdentity {
  const section = config.outbound.tlsRpt;
  return {
    organizationName: section.organization ?? config.hostname,
    contactInfo: section.contact ?? `postmaster@${config.hostname}`,
    uniqueId: `${config.hostname.replace(/[^A-Za-z0-9]/g, '')}${instance === undefined ? '' : `w${instance}`}`,
  };
}
