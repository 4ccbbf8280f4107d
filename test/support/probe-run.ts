/**
 * @module Running the probe command in-process for tests (exit code and output), the certificate
 * facts a report should carry, and scripted SMTP hosts: one that never greets, one whose STARTTLS
 * goes wrong in a chosen way.
 */
import { X509Certificate } from 'node:crypto';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { runProbe, type ProbeDeps } from '../../src/probe/command.js';
import type { CertificateReport } from '../../src/probe/model.js';

export interface ProbeRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export async function probeRun(argv: string[], deps: ProbeDeps = {}): Promise<ProbeRun> {
  let stdout = '';
  let stderr = '';
  const code = await runProbe(
    argv,
    {
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s) },
    },
    deps,
  );
  return { code, stdout, stderr };
}

export interface SilentHost {
  readonly port: number;
  close(): Promise<void>;
}

/** Accepts connections and says nothing: the probe must give up on its own deadline. */
export async function startSilentHost(): Promise<SilentHost> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** The report's certificate fields for `pem`, judged as given. */
export function certificateFacts(
  pem: string,
  judged: Pick<CertificateReport, 'chainValid' | 'chainError' | 'nameMatch' | 'nameError'>,
): CertificateReport {
  const cert = new X509Certificate(pem);
  return {
    subject: cert.subject.split('\n').join(', '),
    issuer: cert.issuer.split('\n').join(', '),
    altNames: (cert.subjectAltName ?? '').split(', ').filter((n) => n !== ''),
    notBefore: new Date(cert.validFrom).toISOString(),
    notAfter: new Date(cert.validTo).toISOString(),
    expired: false,
    ...judged,
    fingerprintSha256: cert.fingerprint256,
  };
}

/**
 * After STARTTLS: `refuse` answers 454; `garbage` answers 220, then meets the ClientHello with
 * bytes that are not TLS; `stall` answers 220 and then nothing; `inject` sends a reply more right
 * behind its 220 (plaintext that would be read as if it came over TLS).
 */
export type StartTlsFault = 'refuse' | 'garbage' | 'stall' | 'inject';

export async function startFaultyStartTls(fault: StartTlsFault): Promise<SilentHost> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    socket.write('220 faulty.test ESMTP\r\n');
    let buffer = '';
    let handshaking = false;
    socket.on('data', (chunk: Buffer) => {
      if (handshaking) {
        if (fault === 'garbage') socket.end('this is not TLS\r\n');
        return;
      }
      buffer += chunk.toString('latin1');
      for (let eol = buffer.indexOf('\r\n'); eol >= 0; eol = buffer.indexOf('\r\n')) {
        const line = buffer.slice(0, eol).toUpperCase();
        buffer = buffer.slice(eol + 2);
        if (line.startsWith('EHLO')) socket.write('250-faulty.test\r\n250 STARTTLS\r\n');
        else if (line === 'QUIT') socket.end('221 Bye\r\n');
        else if (line === 'STARTTLS' && fault === 'refuse') {
          socket.write('454 4.7.0 TLS not available due to temporary reason\r\n');
        } else if (line === 'STARTTLS' && fault === 'inject') {
          socket.write('220 2.0.0 Ready to start TLS\r\n250 injected\r\n');
        } else if (line === 'STARTTLS') {
          socket.write('220 2.0.0 Ready to start TLS\r\n');
          handshaking = true;
        } else socket.write('502 5.5.2 Command not recognized\r\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
