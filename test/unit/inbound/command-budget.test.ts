// CommandBudget: the per-line checks before smtp-server runs a command, and the two budgets.
import t from 'tap';
import { CommandBudget } from '../../../src/inbound/command-budget.js';

const limits = { maxCommandLength: 20, maxErrors: 3, maxJunkCommands: 2 };
const line = (s: string): Buffer => Buffer.from(s, 'latin1');

void t.test('each line verdict', (t) => {
  const b = new CommandBudget(limits);
  t.match(b.check(line('NOOP ' + 'x'.repeat(16)), true), {
    kind: 'refuse',
    violation: 'command_too_long',
  });
  t.match(b.check(line('NOOP ' + 'x'.repeat(15)), true), { kind: 'run' }, 'exactly the limit');
  t.match(b.check(line('MAIL FROM:<a>\rX'), true), { kind: 'refuse', violation: 'cr_in_command' });
  t.match(b.check(line('XYZZY'), false), { kind: 'refuse', violation: 'unknown_command' });
  t.match(b.check(line('MAIL FROM:<a@b>'), true), { kind: 'run' }, 'mail commands are not junk');
  t.end();
});

void t.test('junk budget, error budget, and a delivered message resetting both', (t) => {
  const b = new CommandBudget(limits);
  t.match(b.check(line('NOOP'), true), { kind: 'run' });
  t.match(b.check(line('rset'), true), { kind: 'run' });
  t.match(b.check(line('VRFY x'), true), { kind: 'close', violation: 'too_many_junk_commands' });
  t.notOk(b.replied(250));
  t.notOk(b.replied(500));
  t.notOk(b.replied(550), '550 (a refused recipient) is not a protocol error');
  t.notOk(b.replied(503));
  b.delivered();
  t.notOk(b.replied(501), 'counting started again');
  t.notOk(b.replied(501));
  t.ok(b.replied(555), 'the third error spends the budget');
  t.match(b.check(line('NOOP'), true), { kind: 'run' }, 'junk count restarted too');
  t.end();
});
