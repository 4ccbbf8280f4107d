/**
 * @module Whether TLSA records exist for an SMTP server (RFC 7672 §2.2.3): a raw DNS query over
 * UDP, TCP when truncated (RFC 7766 §5), to the resolver's own servers.
 */
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { connect as netConnect, isIP } from 'node:net';
import { decodeResponse, encodeQuery, RCODE_NAMES, tlsaText, TYPE_TLSA } from './dns-wire.js';
import type { DnsResponse } from './dns-wire.js';
import type { TlsaReport } from './model.js';

export interface DnsServer {
  readonly address: string;
  readonly port: number;
}

/** Node's getServers() forms: `192.0.2.1`, `192.0.2.1:5353`, `2001:db8::1`, `[2001:db8::1]:53`. */
export function parseServer(text: string): DnsServer | undefined {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed?.[1]) return { address: bracketed[1], port: Number(bracketed[2] ?? 53) };
  if (isIP(text) !== 0) return { address: text, port: 53 };
  const withPort = /^([\d.]+):(\d+)$/.exec(text);
  if (withPort?.[1] && isIP(withPort[1]) === 4) {
    return { address: withPort[1], port: Number(withPort[2]) };
  }
  return undefined;
}

function udpQuery(server: DnsServer, query: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(isIP(server.address) === 6 ? 'udp6' : 'udp4');
    const id = query.readUInt16BE(0);
    const done = (err: Error | null, reply?: Buffer): void => {
      clearTimeout(timer);
      socket.close();
      if (err) reject(err);
      else resolve(reply as Buffer);
    };
    const timer = setTimeout(() => done(new Error('DNS query timed out')), timeoutMs);
    socket.on('error', (err) => done(err));
    // Ignore datagrams from elsewhere or for another query (RFC 5452 §9.1).
    socket.on('message', (msg, from) => {
      if (from.address === server.address && from.port === server.port && msg.length >= 2) {
        if (msg.readUInt16BE(0) === id) done(null, msg);
      }
    });
    socket.send(query, server.port, server.address, (err) => {
      if (err) done(err);
    });
  });
}

function tcpQuery(server: DnsServer, query: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: server.address, port: server.port });
    let received = Buffer.alloc(0);
    const done = (err: Error | null, reply?: Buffer): void => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(reply as Buffer);
    };
    const timer = setTimeout(() => done(new Error('DNS query over TCP timed out')), timeoutMs);
    socket.on('error', (err) => done(err));
    socket.on('connect', () => {
      // RFC 1035 §4.2.2: each message is prefixed with its length.
      const length = Buffer.alloc(2);
      length.writeUInt16BE(query.length, 0);
      socket.write(Buffer.concat([length, query]));
    });
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0)) {
        done(null, received.subarray(2, 2 + received.readUInt16BE(0)));
      }
    });
    socket.on('end', () => done(new Error('DNS server closed the TCP connection')));
  });
}

async function ask(server: DnsServer, name: string, timeoutMs: number): Promise<DnsResponse> {
  const query = encodeQuery(randomInt(0, 0x10000), name, TYPE_TLSA);
  let response = decodeResponse(await udpQuery(server, query, timeoutMs));
  if (response.truncated) response = decodeResponse(await tcpQuery(server, query, timeoutMs));
  if (
    response.id !== query.readUInt16BE(0) ||
    response.question?.type !== TYPE_TLSA ||
    response.question.name.toLowerCase() !== name.toLowerCase().replace(/\.$/, '')
  ) {
    throw new Error('DNS response does not answer the question');
  }
  return response;
}

/**
 * TLSA records at `name` (e.g. `_25._tcp.mx.example.org`), asking each server in turn; `unknown`
 * when none answers or every answer is an error. A TLSA record counts for DANE only when DNSSEC
 * validated it (RFC 7672 §2.1.1): `dnssec` carries the resolver's AD bit.
 */
export async function lookupTlsa(
  name: string,
  servers: readonly string[],
  timeoutMs: number,
): Promise<TlsaReport> {
  const errors: string[] = [];
  const parsed = servers.map((s) => ({ text: s, server: parseServer(s) }));
  for (const { text, server } of parsed) {
    if (!server) {
      errors.push(`${text}: not a server address`);
      continue;
    }
    try {
      const response = await ask(server, name, timeoutMs);
      if (response.rcode !== 0 && response.rcode !== 3) {
        errors.push(`${text}: ${RCODE_NAMES[response.rcode] ?? `RCODE ${response.rcode}`}`);
        continue;
      }
      const records = response.answers
        .filter((a) => a.type === TYPE_TLSA)
        .map((a) => tlsaText(a.data));
      return {
        name,
        status: records.length > 0 ? 'present' : 'absent',
        records,
        dnssec: response.authenticated,
        error: null,
      };
    } catch (err) {
      errors.push(`${text}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return {
    name,
    status: 'unknown',
    records: [],
    dnssec: false,
    error: errors.length > 0 ? errors.join('; ') : 'no DNS server configured',
  };
}
