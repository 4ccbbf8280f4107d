/**
 * @module A route's outbound TLS settings as delivery uses them: its level on the ladder
 * none < may < encrypt < verify, protocol floor, trust anchors and client certificate (PEM
 * read once at start-up, so a bad file stops the relay instead of failing mail later).
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createSecureContext, type SecureVersion } from 'node:tls';
import type { RouteConfig } from '../config/schema.js';

export type RouteLevel = RouteConfig['tls'];

/** The PEM contents of a route's files. */
export interface RouteFiles {
  readonly ca?: string;
  readonly clientCert?: string;
  readonly clientKey?: string;
}

export interface RouteTls {
  readonly level: RouteLevel;
  readonly minVersion: SecureVersion;
  readonly ca?: string;
  readonly clientCert?: string;
  readonly clientKey?: string;
  /** MTA-STS applies (MX routes, unless turned off). */
  readonly mtaSts: boolean;
  readonly enforceHistory: boolean;
}

export function routeTls(route: RouteConfig, files: RouteFiles = {}): RouteTls {
  return {
    level: route.tls,
    minVersion: route.minVersion,
    ...files,
    mtaSts: route.nextHop === 'mx' && route.mtaSts !== false,
    enforceHistory: route.enforceHistory,
  };
}

async function readPem(path: string | undefined, what: string): Promise<string | undefined> {
  if (path === undefined) return undefined;
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`${what} ${path}: ${(err as Error).message}`, { cause: err });
  }
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

/** Every certificate of a PEM bundle parses; Node would silently ignore a file without any. */
function checkCertificates(pem: string, what: string): void {
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw new Error(`${what}: no PEM certificate in the file`);
  for (const block of blocks) new X509Certificate(block);
}

/** Reads every route's files, index for index; throws naming the route and file that fails. */
export async function readRouteFiles(routes: readonly RouteConfig[]): Promise<RouteFiles[]> {
  return Promise.all(
    routes.map(async (route, i) => {
      const where = `routes[${i}]`;
      const ca = await readPem(route.ca, `${where}.ca`);
      const clientCert = await readPem(route.clientCert, `${where}.clientCert`);
      const clientKey = await readPem(route.clientKey, `${where}.clientKey`);
      try {
        if (ca !== undefined) checkCertificates(ca, 'ca');
        if (clientCert !== undefined) checkCertificates(clientCert, 'clientCert');
        // Parses the key and checks that it belongs to the certificate.
        createSecureContext({
          ...(ca !== undefined ? { ca } : {}),
          ...(clientCert !== undefined ? { cert: clientCert, key: clientKey } : {}),
        });
      } catch (err) {
        throw new Error(`${where}: unusable TLS files: ${(err as Error).message}`, { cause: err });
      }
      return {
        ...(ca !== undefined ? { ca } : {}),
        ...(clientCert !== undefined ? { clientCert } : {}),
        ...(clientKey !== undefined ? { clientKey } : {}),
      };
    }),
  );
}

/**
 * RFC 8689 §4.2.1: a route can carry a REQUIRETLS message when it can reach verified TLS and, for
 * MX delivery, secure the MX lookup (MTA-STS here; this relay does no DNSSEC validation).
 */
export function requireTlsHonoured(routes: readonly RouteConfig[]): boolean {
  return (
    routes.length > 0 &&
    routes.every((r) => r.tls !== 'none' && (r.nextHop !== 'mx' || r.mtaSts !== false))
  );
}
