/** @module Field validators the configuration sections share: domain names, ports, CIDR blocks. */
import { z } from 'zod';
import { parseCidr } from '../inbound/networks.js';

export const domainName = z
  .string()
  .min(1)
  .transform((d) => d.toLowerCase().replace(/\.$/, ''))
  .refine(
    (d) =>
      d === '*' ||
      /^(\*\.)?[a-z0-9\u0080-\uffff]([a-z0-9\u0080-\uffff.-]*[a-z0-9\u0080-\uffff])?$/u.test(d),
    {
      message: 'expected a domain name, "*.domain" or "*"',
    },
  );

export const port = z.number().int().min(0).max(65535);

export const cidr = z.string().refine((c) => parseCidr(c) !== undefined, {
  message: 'expected an IPv4 or IPv6 address or CIDR block such as 10.0.0.0/8 or fd00::/8',
});
