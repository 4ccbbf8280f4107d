/** @module Shared setup for the catalogue tests: a relay with its own config, and raw clients. */
import type { Test } from 'tap';
import { startTestRelay, type TestRelay } from '../../support/relay.js';
import { SmtpDialogue } from '../../support/smtp-client.js';

/** A relay whose clients on 127.0.0.1 are untrusted (outside allowedNetworks) unless told. */
export async function catalogueRelay(
  t: Test,
  config: Record<string, unknown> = {},
): Promise<TestRelay> {
  const relay = await startTestRelay({
    relay: { allowedNetworks: ['10.0.0.0/8'], acceptDomains: ['dest.test'] },
    ...config,
  });
  t.teardown(() => relay.close());
  return relay;
}

/** Connects (from `from`), checks the greeting, and says EHLO when `ehlo` is set. */
export async function client(
  t: Test,
  port: number,
  options: { readonly ehlo?: boolean; readonly from?: string } = {},
): Promise<SmtpDialogue> {
  const c = await SmtpDialogue.connect(port, '127.0.0.1', options.from);
  t.teardown(() => c.close());
  t.equal(await c.line(), '220 relay.test ESMTP starttls-relay', 'greeting');
  if (options.ehlo ?? true) {
    c.write('EHLO client.test\r\n');
    const ehlo = await c.reply();
    t.equal(ehlo[0], '250-relay.test Nice to meet you, [127.0.0.1]', 'EHLO');
  }
  return c;
}

/** The value of one sample on /metrics, 0 when absent. */
export async function sample(relay: TestRelay, series: string): Promise<number> {
  const text = await relay.metricsText();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}
