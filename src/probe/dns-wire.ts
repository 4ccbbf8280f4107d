/**
 * @module The DNS wire format for one question (RFC 1035 §4.1): encode a query, decode a response;
 * Node 20's resolver knows no TLSA (type 52), so the probe asks for it itself.
 */

export const TYPE_TLSA = 52;
const TYPE_OPT = 41;
const CLASS_IN = 1;
/** RFC 6891 §6.2.5: 1232 octets avoids IP fragmentation on every common path. */
const EDNS_UDP_SIZE = 1232;
const FLAG_QR = 0x8000;
const FLAG_TC = 0x0200;
const FLAG_RD = 0x0100;
/** RFC 6840 §5.7: AD in a query asks a validating resolver to say whether it validated. */
const FLAG_AD = 0x0020;

export const RCODE_NAMES: Readonly<Record<number, string>> = {
  0: 'NOERROR',
  1: 'FORMERR',
  2: 'SERVFAIL',
  3: 'NXDOMAIN',
  4: 'NOTIMP',
  5: 'REFUSED',
};

export interface DnsRecord {
  readonly name: string;
  readonly type: number;
  readonly data: Buffer;
}

export interface DnsResponse {
  readonly id: number;
  readonly rcode: number;
  readonly truncated: boolean;
  /** The AD bit (RFC 4035 §3.2.3): the resolver validated the answer with DNSSEC. */
  readonly authenticated: boolean;
  readonly question: { readonly name: string; readonly type: number } | null;
  readonly answers: readonly DnsRecord[];
}

/** `_25._tcp.mx.example.org` as length-prefixed labels (RFC 1035 §3.1). */
export function encodeName(name: string): Buffer {
  const labels = name.replace(/\.$/, '').split('.');
  const parts: Buffer[] = [];
  for (const label of labels) {
    const bytes = Buffer.from(label, 'ascii');
    if (bytes.length === 0 || bytes.length > 63) throw new Error(`invalid DNS name: ${name}`);
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  parts.push(Buffer.from([0]));
  const wire = Buffer.concat(parts);
  if (wire.length > 255) throw new Error(`DNS name too long: ${name}`);
  return wire;
}

/** A recursive query for `name`/`type` with an EDNS0 OPT record (RFC 6891 §6.1.2). */
export function encodeQuery(id: number, name: string, type: number): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(FLAG_RD | FLAG_AD, 2);
  header.writeUInt16BE(1, 4); // QDCOUNT
  header.writeUInt16BE(1, 10); // ARCOUNT: the OPT record
  const question = Buffer.alloc(4);
  question.writeUInt16BE(type, 0);
  question.writeUInt16BE(CLASS_IN, 2);
  const opt = Buffer.alloc(11);
  opt.writeUInt8(0, 0); // root name
  opt.writeUInt16BE(TYPE_OPT, 1);
  opt.writeUInt16BE(EDNS_UDP_SIZE, 3);
  // TTL (extended RCODE, version, flags) and RDLENGTH stay 0.
  return Buffer.concat([header, encodeName(name), question, opt]);
}

/** Reads a possibly compressed name (RFC 1035 §4.1.4) at `offset`; returns it and the next offset. */
function readName(buf: Buffer, offset: number): { name: string; next: number } {
  const labels: string[] = [];
  let pos = offset;
  let next: number | undefined;
  for (let jumps = 0; jumps < 64; jumps++) {
    const len = buf.readUInt8(pos);
    if (len === 0) {
      return { name: labels.join('.'), next: next ?? pos + 1 };
    }
    if ((len & 0xc0) === 0xc0) {
      next ??= pos + 2;
      pos = buf.readUInt16BE(pos) & 0x3fff;
      continue;
    }
    if (len > 63 || pos + 1 + len > buf.length) throw new Error('malformed DNS name');
    labels.push(buf.toString('latin1', pos + 1, pos + 1 + len));
    pos += 1 + len;
  }
  throw new Error('DNS name compression loop');
}

/** Decodes a response's header, question and answer section; throws when malformed. */
export function decodeResponse(buf: Buffer): DnsResponse {
  if (buf.length < 12) throw new Error('DNS response shorter than its header');
  const flags = buf.readUInt16BE(2);
  if ((flags & FLAG_QR) === 0) throw new Error('not a DNS response');
  const qdcount = buf.readUInt16BE(4);
  const ancount = buf.readUInt16BE(6);
  let pos = 12;
  let question: DnsResponse['question'] = null;
  for (let i = 0; i < qdcount; i++) {
    const { name, next } = readName(buf, pos);
    question ??= { name, type: buf.readUInt16BE(next) };
    pos = next + 4;
  }
  const answers: DnsRecord[] = [];
  for (let i = 0; i < ancount; i++) {
    const { name, next } = readName(buf, pos);
    const type = buf.readUInt16BE(next);
    const length = buf.readUInt16BE(next + 8);
    const start = next + 10;
    if (start + length > buf.length) throw new Error('DNS record runs past the response');
    answers.push({ name, type, data: buf.subarray(start, start + length) });
    pos = start + length;
  }
  return {
    id: buf.readUInt16BE(0),
    rcode: flags & 0x000f,
    truncated: (flags & FLAG_TC) !== 0,
    authenticated: (flags & FLAG_AD) !== 0,
    question,
    answers,
  };
}

/** A TLSA record's RDATA in presentation form: `3 1 1 <hex>` (RFC 6698 §2.2). */
export function tlsaText(data: Buffer): string {
  if (data.length < 3) throw new Error('TLSA record shorter than 3 octets');
  return `${data[0]} ${data[1]} ${data[2]} ${data.subarray(3).toString('hex')}`;
}
