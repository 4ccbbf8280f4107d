// AddressRate: a sliding 60-second window per address, bounded in memory.
import t from 'tap';
import { AddressRate } from '../../../src/inbound/address-rate.js';

void t.test('allows perMinute events per address in any 60 s, then refuses', (t) => {
  const rate = new AddressRate(2);
  t.ok(rate.allow('192.0.2.1', 0));
  t.ok(rate.allow('192.0.2.1', 1000));
  t.notOk(rate.allow('192.0.2.1', 2000), 'the third in the window');
  t.ok(rate.allow('192.0.2.2', 2000), 'another address has its own window');
  t.notOk(rate.allow('192.0.2.1', 59_999), 'refusals are not recorded, the window still holds two');
  t.ok(rate.allow('192.0.2.1', 60_001), 'the first event aged out');
  t.end();
});

void t.test('0 is unlimited; the address table is bounded', (t) => {
  const unlimited = new AddressRate(0);
  let allowed = 0;
  for (let i = 0; i < 1000; i++) if (unlimited.allow('192.0.2.1', i)) allowed += 1;
  t.equal(allowed, 1000);
  t.equal(unlimited.addresses, 0, 'nothing is stored when unlimited');
  const bounded = new AddressRate(5, 10);
  for (let i = 0; i < 100; i++) bounded.allow(`10.0.0.${i}`, i);
  t.ok(bounded.addresses <= 10);
  t.end();
});
