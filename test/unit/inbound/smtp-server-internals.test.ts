// Canaries for the smtp-server 3.21.6 internals the PROXY protocol support replaces: an upgrade that moves them fails here first.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { SMTPServer } from 'smtp-server';
import t from 'tap';
import { generateSelfSigned } from '../../support/pki.js';

const require = createRequire(import.meta.url);

void t.test('the pinned version and the two methods acceptProxyProtocol replaces', async (t) => {
  const pkgPath = require
    .resolve('smtp-server')
    .replace(/dist\/(esm|cjs)\/smtp-server\.js$/, 'package.json');
  const pkg = JSON.parse(await readFile(pkgPath, 'utf8')) as { version: string };
  t.equal(pkg.version, '3.21.6', 'bump only together with these canaries');
  const pair = await generateSelfSigned(['canary.test']);
  const server = new SMTPServer({ logger: false, ...pair });
  const internals = server as unknown as Record<string, unknown>;
  t.type(internals._handleProxy, 'function');
  t.type(internals._expectsProxyHeader, 'function');
  t.type(internals._acceptSocket, 'function', 'the guard that wraps _handleProxy');
});
