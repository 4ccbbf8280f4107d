/** @module Shared test setup: a next hop, a relay routed to it, and one transaction's exact replies. */
import type { Test } from 'tap';
import type { RelayOverrides } from '../../src/app.js';
import { startNextHop, type NextHopBehaviour, type TestNextHop } from './next-hop.js';
import { startRawHop, type RawHop, type RawHopOptions } from './raw-hop.js';
import { startTestRelay, type TestRelay } from './relay.js';
import { SmtpDialogue } from './smtp-client.js';

export interface RelayAndHop {
  readonly hop: TestNextHop;
  readonly relay: TestRelay;
}

/** A next hop behaving as told, and a relay whose route for dest.test (and `extraDomains`) leads to it. */
export async function relayAndHop(
  t: Test,
  behaviour: NextHopBehaviour,
  config: Record<string, unknown> = {},
  overrides: RelayOverrides = {},
): Promise<RelayAndHop> {
  const hop = await startNextHop(behaviour);
  t.teardown(() => hop.close());
  const relay = await startTestRelay(
    { routes: [{ domains: ['dest.test'], nextHop: `127.0.0.1:${hop.port}` }], ...config },
    overrides,
  );
  t.teardown(() => relay.close());
  return { hop, relay };
}

/**
 * A scripted raw next hop, a relay configured by `config(hopPort)`, and a client already through
 * STARTTLS: the setup most end-to-end tests share.
 */
export async function throughRawHop(
  t: Test,
  config: (hopPort: number) => Record<string, unknown>,
  hopOptions: RawHopOptions = {},
): Promise<{ readonly hop: RawHop; readonly relay: TestRelay; readonly c: SmtpDialogue }> {
  const hop = await startRawHop(hopOptions);
  t.teardown(() => hop.close());
  const relay = await startTestRelay(config(hop.port));
  t.teardown(() => relay.close());
  return { hop, relay, c: await tlsClient(t, relay.port) };
}

/** Connects, reads the greeting, and upgrades with STARTTLS. */
export async function tlsClient(t: Test, port: number): Promise<SmtpDialogue> {
  const c = await SmtpDialogue.connect(port);
  t.teardown(() => c.close());
  await c.line();
  await c.startTls();
  return c;
}

export interface TransactionReplies {
  readonly mail: string;
  readonly rcpts: string[];
  readonly data?: string;
  readonly final?: string;
}

/**
 * MAIL, each RCPT, and (when any RCPT got 250) DATA with `body` followed by the terminating dot;
 * every reply line exactly as the client saw it.
 */
export async function transact(
  c: SmtpDialogue,
  from: string,
  rcpts: readonly string[],
  body: string,
): Promise<TransactionReplies> {
  const mail = await c.send(`MAIL FROM:<${from}>`);
  const rcptReplies: string[] = [];
  for (const r of rcpts) rcptReplies.push(await c.send(`RCPT TO:<${r}>`));
  if (!rcptReplies.some((r) => r.startsWith('250 '))) return { mail, rcpts: rcptReplies };
  const data = await c.send('DATA');
  c.write(`${body}\r\n.\r\n`);
  const final = await c.line();
  return { mail, rcpts: rcptReplies, data, final };
}

/** Lets the relay's asynchronous log writes land before a test reads them. */
export function settle(ms = 50): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
