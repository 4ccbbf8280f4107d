/** @module `openssl s_client -starttls smtp` against a relay on loopback: its argument list. */

/**
 * EHLO client.test, brief output, nothing verified (skipping the system trust store makes
 * s_client start 6x faster), then `extra` (protocol, suites, signature algorithms).
 */
export function sClientStartTls(port: number, extra: readonly string[]): string[] {
  return [
    's_client',
    '-starttls',
    'smtp',
    '-name',
    'client.test',
    '-connect',
    `127.0.0.1:${port}`,
    '-brief',
    '-no-CAfile',
    '-no-CApath',
    '-no-CAstore',
    ...extra,
  ];
}
