/** @module A next-hop session for unit tests of the connection cache: a fake connection, real facts. */
import type { HopConnection } from '../../src/outbound/hop-connection.js';
import type { OpenedHop } from '../../src/outbound/open-hop.js';
import type { TlsFacts } from '../../src/outbound/tls-facts.js';

/** TLS 1.3 to a self-signed certificate: encrypted, not verified. */
export const ENCRYPTED: TlsFacts = {
  level: 'encrypted',
  protocol: 'TLSv1.3',
  cipher: 'TLS_AES_256_GCM_SHA384',
  verified: false,
  verifyError: 'DEPTH_ZERO_SELF_SIGNED_CERT',
};

/** `fake` stands in for the HopConnection; the facts are those of hop.test:25 at `tls`. */
export function openedHop<C extends object>(fake: C, tls: TlsFacts): OpenedHop & { fake: C } {
  return {
    fake,
    connection: fake as unknown as HopConnection,
    facts: {
      host: 'hop.test',
      address: '192.0.2.1',
      port: 25,
      mxPreference: null,
      starttls: tls.level === 'none' ? 'not_offered' : 'encrypted',
      tls,
      policy: { required: 'none', checks: [] },
    },
  };
}
