/**
 * @module A local HTTPS server for MTA-STS policy tests: fixed answers by host and path, a
 * certificate chosen by SNI, and a log of requests (so a test sees a redirect was not followed).
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createSecureContext } from 'node:tls';
import type { KeyPair } from './pki.js';

export interface HttpsAnswer {
  readonly status: number;
  readonly contentType?: string;
  readonly body?: string | Buffer;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface TestHttps {
  readonly port: number;
  /** `host path` of every request, the port left out of the host, in order. */
  readonly requests: string[];
  close(): Promise<void>;
}

/**
 * `answers` are keyed `host path`, e.g. `mta-sts.a.test /.well-known/mta-sts.txt`; anything else
 * is 404. `certs` picks a certificate by SNI name; others get `pair`.
 */
export async function startHttps(
  pair: KeyPair,
  answers: Readonly<Record<string, HttpsAnswer>>,
  certs: Readonly<Record<string, KeyPair>> = {},
): Promise<TestHttps> {
  const requests: string[] = [];
  const contexts = new Map(
    Object.entries(certs).map(([name, p]) => [
      name,
      createSecureContext({ key: p.key, cert: p.cert }),
    ]),
  );
  const server: Server = createServer(
    {
      key: pair.key,
      cert: pair.cert,
      SNICallback: (name, cb) => cb(null, contexts.get(name)),
    },
    (req, res) => {
      const key = `${(req.headers.host ?? '').replace(/:\d+$/, '')} ${req.url ?? ''}`;
      requests.push(key);
      const answer = answers[key] ?? { status: 404, contentType: 'text/plain', body: 'not here' };
      res.writeHead(answer.status, {
        ...(answer.contentType !== undefined ? { 'content-type': answer.contentType } : {}),
        ...answer.headers,
      });
      res.end(answer.body ?? '');
    },
  );
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
