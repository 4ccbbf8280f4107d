// A next hop that stalls at each phase past a short deadline (RelayOverrides.deadlines), swept over many seeded transactions: the client hears 451 in time and never a 250 the hop did not write.
import t from 'tap';
import { faultClient } from '../support/fault-ledger.js';
import {
  ACCEPTED,
  AT_RCPT,
  BEFORE_RCPT,
  faultyPair,
  IN_DATA,
  stall,
  sweep,
  TRANSACTIONS,
  UNAVAILABLE,
  type FaultCase,
} from '../support/fault-sweep.js';

const CASES: readonly FaultCase[] = [
  {
    name: 'stall at greeting',
    phase: 'greeting',
    action: stall,
    replies: BEFORE_RCPT,
    session: 'open',
    atHop: 'nothing',
  },
  {
    name: 'stall at MAIL',
    phase: 'mail',
    action: stall,
    replies: AT_RCPT,
    session: 'open',
    atHop: 'nothing',
  },
  {
    name: 'stall at RCPT',
    phase: 'rcpt',
    action: stall,
    replies: AT_RCPT,
    session: 'open',
    atHop: 'nothing',
  },
  {
    name: 'stall at DATA',
    phase: 'data',
    action: stall,
    replies: IN_DATA,
    session: 'open',
    atHop: 'nothing',
  },
  {
    name: 'stall mid-DATA',
    phase: 'body',
    action: stall,
    replies: IN_DATA,
    session: 'open',
    atHop: 'incomplete',
    large: true,
  },
  {
    name: 'stall before the final reply',
    phase: 'dot',
    action: stall,
    replies: IN_DATA,
    session: 'open',
    atHop: 'complete',
  },
];

for (const [i, fault] of CASES.entries()) {
  const seed = 7100 + i;
  void t.test(`next hop: ${fault.name}, ${TRANSACTIONS} transactions, seed ${seed}`, (t) =>
    sweep(t, fault, seed),
  );
}

void t.test('next hop stalls after EHLO: the setup deadline answers the RCPT', async (t) => {
  const { port } = await faultyPair(t, 'ehlo', stall, () => true);
  const c = await faultClient(t, port);
  t.equal(await c.send('MAIL FROM:<a@origin.test>'), ACCEPTED);
  c.write('RCPT TO:<b@dest.test>\r\n');
  // Setup (EHLO, STARTTLS) has SHORT.setupMs; 5 s is far past it, yet far short of the
  // socketTimeout (finalReplyMs + 60 s) that ends the wait today.
  const reply = await Promise.race([
    c.line(),
    new Promise<string>((resolve) => setTimeout(() => resolve('no reply within 5 s'), 5000)),
  ]);
  t.equal(reply, UNAVAILABLE);
});
