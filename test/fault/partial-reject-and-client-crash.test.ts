// Swept over seeded transactions: a next hop refusing some recipients (5xx and 4xx) has each refusal mirrored and relays to the rest only; a client that crashes mid-DATA never gets its message completed at the hop, and the relay serves the next client.
import t from 'tap';
import { startFaultHop } from '../support/fault-hop.js';
import {
  checkLedger,
  ClientLedger,
  faultClient,
  faultMessage,
  step,
} from '../support/fault-ledger.js';
import { prng } from '../support/fuzz-prng.js';
import { startTestRelay } from '../support/relay.js';
import { settle } from '../support/scenario.js';

const QUEUED = /^250 2\.0\.0 Ok: queued as H\d+$/;
const REFUSALS = [
  '550 5.1.1 <{r}>: Recipient address rejected: User unknown',
  '450 4.2.1 <{r}>: Mailbox busy, try again later',
  '552 5.2.2 <{r}>: Mailbox full',
] as const;

void t.test('partial reject: 20 transactions of 1–4 recipients, seed 8101', async (t) => {
  const rng = prng(8101);
  const refused = new Map<string, string>();
  const hop = await startFaultHop((phase, { line }) => {
    if (phase !== 'rcpt') return undefined;
    const address = /<([^>]+)>/.exec(line)?.[1] ?? '';
    const text = refused.get(address);
    return text === undefined ? undefined : { kind: 'reply', text };
  });
  t.teardown(() => hop.close());
  const relay = await startTestRelay({
    routes: [{ domains: ['dest.test'], nextHop: `127.0.0.1:${hop.port}` }],
  });
  t.teardown(() => relay.close());
  const ledger = new ClientLedger();
  const c = await faultClient(t, relay.port);
  for (let i = 0; i < 20; i += 1) {
    const id = `partial-${i}@client.test`;
    const rcpts = Array.from({ length: rng.int(1, 4) }, (_, k) => `r${i}-${k}@dest.test`);
    for (const r of rcpts)
      if (rng.chance(0.4)) refused.set(r, rng.pick(REFUSALS).replace('{r}', r));
    const view = ledger.attempt(id);
    t.equal(await step(c, view, 'MAIL FROM:<a@origin.test>'), '250 Accepted');
    for (const r of rcpts)
      t.equal(
        await step(c, view, `RCPT TO:<${r}>`),
        refused.get(r) ?? '250 Accepted',
        `${id}: ${r} mirrored`,
      );
    const accepted = rcpts.filter((r) => !refused.has(r));
    if (accepted.length === 0) {
      t.equal(await step(c, view, 'RSET'), '250 Flushed');
      t.same(
        hop.messages.filter((m) => m.id === id),
        [],
        `${id}: nothing accepted, no DATA`,
      );
      continue;
    }
    t.equal(await step(c, view, 'DATA'), '354 End data with <CR><LF>.<CR><LF>');
    view.final = await step(c, view, `${faultMessage(id, rng.int(100, 5000), rng)}.`);
    t.match(view.final, QUEUED, `${id}: relayed`);
    const at = hop.messages.find((m) => m.id === id);
    t.same(
      at?.rcpts,
      accepted.map((r) => `<${r}>`),
      `${id}: the hop has exactly the recipients it accepted`,
    );
  }
  checkLedger(t, ledger, hop);
});

void t.test('client crash mid-DATA: 20 seeded clients vanish, seed 8202', async (t) => {
  const rng = prng(8202);
  const hop = await startFaultHop();
  t.teardown(() => hop.close());
  const relay = await startTestRelay({
    routes: [{ domains: ['dest.test'], nextHop: `127.0.0.1:${hop.port}` }],
  });
  t.teardown(() => relay.close());
  const ledger = new ClientLedger();
  const crashed: string[] = [];
  for (let i = 0; i < 20; i += 1) {
    const id = `crash-${i}@client.test`;
    const c = await faultClient(t, relay.port);
    const view = ledger.attempt(id);
    t.equal(await step(c, view, 'MAIL FROM:<a@origin.test>'), '250 Accepted');
    t.equal(await step(c, view, 'RCPT TO:<b@dest.test>'), '250 Accepted');
    t.equal(await step(c, view, 'DATA'), '354 End data with <CR><LF>.<CR><LF>');
    const body = faultMessage(id, rng.int(1000, 200_000), rng);
    // Cut anywhere, including right before the final CRLF of the body or inside `\r\n.\r\n`.
    const cut = rng.int(1, body.length + 2);
    c.write(`${body}.\r\n`.slice(0, cut));
    view.aborted = true;
    crashed.push(id);
    if (rng.chance(0.5)) await settle(rng.int(0, 30));
    c.close();
  }
  // The relay notices each vanished client and gives up the hop's transaction.
  for (let i = 0; i < 100 && hop.openConnections > 0; i += 1) await settle(50);
  t.equal(hop.openConnections, 0, 'every next-hop session was closed');
  t.same(
    hop.messages.filter((m) => m.complete).map((m) => m.id),
    [],
    'the hop never got a terminating dot',
  );
  checkLedger(t, ledger, hop);
  // The relay is alive and relays the next message.
  const c = await faultClient(t, relay.port);
  const view = ledger.attempt('after@client.test');
  t.equal(await step(c, view, 'MAIL FROM:<a@origin.test>'), '250 Accepted');
  t.equal(await step(c, view, 'RCPT TO:<b@dest.test>'), '250 Accepted');
  t.equal(await step(c, view, 'DATA'), '354 End data with <CR><LF>.<CR><LF>');
  t.match(await step(c, view, `${faultMessage('after@client.test', 500, rng)}.`), QUEUED);
});
