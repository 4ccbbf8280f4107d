/** @module The probe's view of MTA-STS policy parsing and MX matching, shared with the relay (src/mta-sts/policy.ts). */
export { mxMatches, parsePolicy, type MtaStsPolicy } from '../mta-sts/policy.js';
