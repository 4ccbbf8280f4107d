/**
 * @module A scripted DNS server on 127.0.0.1 (UDP and TCP on one port) for the TLSA lookup's
 * edge cases a real server will not produce on demand: truncation, SERVFAIL, silence, the AD bit.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface FakeDnsBehaviour {
  /** Over UDP: answer, answer with TC set and no records, fail with this RCODE, or say nothing. */
  readonly udp: 'answer' | 'truncate' | { readonly rcode: number } | 'silent';
  /** TLSA RDATA of each answer record. */
  readonly records: readonly Buffer[];
  /** Set the AD bit: the answer was validated. */
  readonly authenticated?: boolean;
}

export interface FakeDns {
  /** `127.0.0.1:port`, as Node's getServers() writes it. */
  readonly server: string;
  readonly udpQueries: number;
  readonly tcpQueries: number;
  close(): Promise<void>;
}

/** The question section's end: after the name's labels, type and class. */
function questionEnd(query: Buffer): number {
  let pos = 12;
  while (query[pos] !== 0) pos += 1 + (query[pos] ?? 0);
  return pos + 5;
}

function respond(query: Buffer, behaviour: FakeDnsBehaviour, overUdp: boolean): Buffer {
  const end = questionEnd(query);
  const truncated = overUdp && behaviour.udp === 'truncate';
  const rcode = overUdp && typeof behaviour.udp === 'object' ? behaviour.udp.rcode : 0;
  const records = truncated || rcode !== 0 ? [] : behaviour.records;
  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0);
  // QR, RD, RA; then TC, AD and the RCODE as scripted.
  const flags =
    0x8000 | 0x0100 | 0x0080 | (truncated ? 0x0200 : 0) | (behaviour.authenticated ? 0x20 : 0);
  header.writeUInt16BE(flags | rcode, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(records.length, 6);
  const answers = records.map((rdata) => {
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0); // the question's name
    rr.writeUInt16BE(52, 2);
    rr.writeUInt16BE(1, 4);
    rr.writeUInt32BE(300, 6);
    rr.writeUInt16BE(rdata.length, 10);
    return Buffer.concat([rr, rdata]);
  });
  return Buffer.concat([header, query.subarray(12, end), ...answers]);
}

export async function startFakeDns(behaviour: FakeDnsBehaviour): Promise<FakeDns> {
  let udpQueries = 0;
  let tcpQueries = 0;
  const sockets = new Set<Socket>();
  const tcp: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (buffer.length < 2 || buffer.length < 2 + buffer.readUInt16BE(0)) return;
      tcpQueries += 1;
      const reply = respond(buffer.subarray(2, 2 + buffer.readUInt16BE(0)), behaviour, false);
      const length = Buffer.alloc(2);
      length.writeUInt16BE(reply.length, 0);
      socket.end(Buffer.concat([length, reply]));
    });
  });
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  const port = (tcp.address() as AddressInfo).port;
  const udp: UdpSocket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind(port, '127.0.0.1', () => resolve());
  });
  udp.on('message', (query, from) => {
    udpQueries += 1;
    if (behaviour.udp === 'silent') return;
    udp.send(respond(query, behaviour, true), from.port, from.address);
  });
  return {
    server: `127.0.0.1:${port}`,
    get udpQueries() {
      return udpQueries;
    },
    get tcpQueries() {
      return tcpQueries;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
      await new Promise<void>((resolve) => udp.close(() => resolve()));
    },
  };
}
