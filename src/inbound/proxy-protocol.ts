/**
 * @module The PROXY protocol (HAProxy's spec, versions 1 and 2) in front of a listener: the load
 * balancer's header gives the original client address, which logs, Received headers, relay
 * authorization and limits then see. Only peers in `proxyFrom` may send one; anyone else who
 * talks before our greeting is refused by smtp-server's early-talker check (421).
 */
import { randomBytes } from 'node:crypto';
import { isIP, type Socket } from 'node:net';
import type { SMTPServer } from 'smtp-server';
import type { NetworkSet } from './networks.js';

/** v2 starts with this 12-byte signature (spec §2.2). */
const V2_SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
/** v1 lines are at most 107 bytes, CRLF included (spec §2.1). */
const V1_MAX = 107;
/** A v2 header we accept: 16 bytes plus addresses and TLVs; larger ones are refused. */
const V2_MAX = 16 + 536;

export type ProxyHeader =
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'invalid'; readonly why: string }
  /** `source` undefined: LOCAL / UNKNOWN, a health check from the balancer itself. */
  | {
      readonly kind: 'ok';
      readonly consumed: number;
      readonly source?: { address: string; port: number };
    };

function v1(buf: Buffer): ProxyHeader {
  const end = buf.indexOf('\r\n');
  if (end < 0)
    return buf.length >= V1_MAX
      ? { kind: 'invalid', why: 'v1 line too long' }
      : { kind: 'incomplete' };
  const parts = buf.subarray(0, end).toString('latin1').split(' ');
  const consumed = end + 2;
  if (parts[0] !== 'PROXY') return { kind: 'invalid', why: 'not a PROXY line' };
  if (parts[1] === 'UNKNOWN') return { kind: 'ok', consumed };
  const [, family, src, , sport] = parts;
  const version = family === 'TCP4' ? 4 : family === 'TCP6' ? 6 : 0;
  if (
    parts.length !== 6 ||
    version === 0 ||
    !src ||
    isIP(src) !== version ||
    !/^\d{1,5}$/.test(sport ?? '')
  ) {
    return { kind: 'invalid', why: 'malformed v1 line' };
  }
  return { kind: 'ok', consumed, source: { address: src, port: Number(sport) } };
}

/** Full (uncompressed) form, or `::ffff:a.b.c.d` for an IPv4-mapped address. */
function ipv6(bytes: Buffer): string {
  if (bytes.subarray(0, 10).every((b) => b === 0) && bytes.readUInt16BE(10) === 0xffff) {
    return `::ffff:${[...bytes.subarray(12, 16)].join('.')}`;
  }
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  return groups.join(':');
}

function v2(buf: Buffer): ProxyHeader {
  if (buf.length < 16) return { kind: 'incomplete' };
  const verCmd = buf[12] ?? 0;
  const famProto = buf[13] ?? 0;
  const length = buf.readUInt16BE(14);
  if (verCmd >> 4 !== 2) return { kind: 'invalid', why: 'unsupported v2 version' };
  if (16 + length > V2_MAX) return { kind: 'invalid', why: 'v2 header too long' };
  if (buf.length < 16 + length) return { kind: 'incomplete' };
  const consumed = 16 + length;
  const command = verCmd & 0x0f;
  if (command === 0x0) return { kind: 'ok', consumed };
  if (command !== 0x1) return { kind: 'invalid', why: 'unknown v2 command' };
  const addr = buf.subarray(16, 16 + length);
  switch (famProto) {
    case 0x11: // TCP over IPv4: src(4) dst(4) sport(2) dport(2)
      if (length < 12) return { kind: 'invalid', why: 'short v2 IPv4 block' };
      return {
        kind: 'ok',
        consumed,
        source: { address: [...addr.subarray(0, 4)].join('.'), port: addr.readUInt16BE(8) },
      };
    case 0x21: // TCP over IPv6: src(16) dst(16) sport(2) dport(2)
      if (length < 36) return { kind: 'invalid', why: 'short v2 IPv6 block' };
      return {
        kind: 'ok',
        consumed,
        source: { address: ipv6(addr.subarray(0, 16)), port: addr.readUInt16BE(32) },
      };
    case 0x00: // UNSPEC: keep the connection's own address
      return { kind: 'ok', consumed };
    default:
      return { kind: 'invalid', why: 'unsupported v2 address family' };
  }
}

/** Parses the start of a connection as a v1 or v2 header. */
export function parseProxyHeader(buf: Buffer): ProxyHeader {
  const probe = Math.min(buf.length, V2_SIGNATURE.length);
  if (buf.subarray(0, probe).equals(V2_SIGNATURE.subarray(0, probe))) {
    return buf.length < V2_SIGNATURE.length ? { kind: 'incomplete' } : v2(buf);
  }
  return v1(buf);
}

type SocketOptions = { id: string; remoteAddress?: string; remotePort?: number };
type ProxyInternals = {
  _expectsProxyHeader(socket: Socket): boolean;
  _handleProxy(
    socket: Socket,
    callback: (err: Error | null, options?: SocketOptions) => void,
  ): void;
};

/**
 * Replaces smtp-server 3.21.6's PROXY handling (v1 only, exact peer addresses) on one server:
 * trusted peers are CIDR blocks, and both versions are read. The library's guard (timeout, close
 * before the header) still wraps the call. A canary test pins these two internal methods.
 */
export function acceptProxyProtocol(server: SMTPServer, trusted: NetworkSet): void {
  const internals = server as unknown as ProxyInternals;
  const plain = internals._handleProxy.bind(server);
  internals._expectsProxyHeader = (socket) => trusted.contains(socket.remoteAddress ?? '');
  internals._handleProxy = (socket, callback) => {
    if (!trusted.contains(socket.remoteAddress ?? '')) {
      plain(socket, callback);
      return;
    }
    const id = BigInt(`0x${randomBytes(10).toString('hex')}`)
      .toString(32)
      .padStart(16, '0');
    let buffered = Buffer.alloc(0);
    let finished = false;
    const finish = (err: Error | null, options?: SocketOptions): void => {
      if (finished) return;
      finished = true;
      socket.removeListener('readable', read);
      socket.removeListener('close', closed);
      socket.removeListener('error', closed);
      if (err) {
        socket.on('error', () => undefined);
        socket.destroy();
      }
      callback(err, options);
    };
    const closed = (): void => finish(new Error('connection closed before the PROXY header'));
    const read = (): void => {
      let chunk: Buffer | null;
      while ((chunk = socket.read() as Buffer | null) !== null) {
        buffered = Buffer.concat([buffered, chunk]);
        const header = parseProxyHeader(buffered);
        if (header.kind === 'incomplete') continue;
        if (header.kind === 'invalid') {
          finish(new Error(`invalid PROXY header: ${header.why}`));
          return;
        }
        const rest = buffered.subarray(header.consumed);
        if (rest.length > 0) socket.unshift(rest);
        finish(
          null,
          header.source
            ? { id, remoteAddress: header.source.address, remotePort: header.source.port }
            : { id },
        );
        return;
      }
    };
    socket.on('readable', read);
    socket.once('close', closed);
    socket.once('error', closed);
  };
}
