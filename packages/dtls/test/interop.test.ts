// Interop with real DTLS peers from Debian: OpenSSL s_client and GnuTLS gnutls-cli against this package's server,
// every PSK suite each offers, data both ways, and OpenSSL's session resumption (-sess_out / -sess_in). Skipped, with
// the reason, where a peer is not installed (.ci/run installs both).
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DtlsConnection } from '../src/connection.js';
import { createDtlsServer, type DtlsServer } from '../src/server.js';

const KEY_HEX = '7a3c5e0f1d2b4a6987c5e3f1a2b4c6d8';
const IDENTITY = 'hsn:2159017985';
const KEY = Uint8Array.from(Buffer.from(KEY_HEX, 'hex'));

const has = (command: string, args: string[]) => spawnSync(command, args, { stdio: 'ignore' }).status === 0;
const OPENSSL = has('openssl', ['version']);
const GNUTLS = has('gnutls-cli', ['--version']);

let server: DtlsServer;
let port = 0;
const accepted: DtlsConnection[] = [];
const children: ChildProcess[] = [];
const directory = mkdtempSync(join(tmpdir(), 'uplink-dtls-interop-'));

beforeAll(async () => {
  server = createDtlsServer({ psk: (identity) => (identity === IDENTITY ? KEY : undefined) });
  port = (await server.listen(0, '127.0.0.1')).port;
  server.on('secureConnection', (connection) => {
    accepted.push(connection);
    connection.on('error', () => {});
    // Answers every datagram: "echo:" + what came, so the peer's stdout shows data went both ways.
    connection.on('data', (data: Uint8Array) =>
      connection.send(new TextEncoder().encode(`echo:${Buffer.from(data).toString().trim()}\n`)),
    );
  });
});
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});
afterAll(async () => {
  await server.close();
  rmSync(directory, { recursive: true, force: true });
});

/** Runs a peer, types a line once it is connected, and resolves to its stdout when the echo came back. */
function talk(command: string, args: string[], line: string, ready: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    children.push(child);
    let output = '';
    let sent = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')}: no echo in 10 s; output:\n${output}`));
    }, 10_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (!sent && ready.test(output)) {
        sent = true;
        child.stdin?.write(`${line}\n`);
      }
      if (output.includes(`echo:${line}`)) {
        clearTimeout(timer);
        child.kill('SIGKILL');
        resolve(output);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('error', reject);
  });
}

const OPENSSL_SUITES = [
  ['PSK-AES128-CCM8', 'TLS_PSK_WITH_AES_128_CCM_8'],
  ['PSK-AES128-CCM', 'TLS_PSK_WITH_AES_128_CCM'],
  ['PSK-AES128-GCM-SHA256', 'TLS_PSK_WITH_AES_128_GCM_SHA256'],
  ['PSK-AES256-GCM-SHA384', 'TLS_PSK_WITH_AES_256_GCM_SHA384'],
  ['PSK-AES128-CBC-SHA256', 'TLS_PSK_WITH_AES_128_CBC_SHA256'],
  ['PSK-AES128-CBC-SHA', 'TLS_PSK_WITH_AES_128_CBC_SHA'],
  ['PSK-AES256-CBC-SHA', 'TLS_PSK_WITH_AES_256_CBC_SHA'],
] as const;

const opensslArgs = (extra: string[]) => [
  's_client',
  '-dtls1_2',
  '-connect',
  `127.0.0.1:${port}`,
  '-psk_identity',
  IDENTITY,
  '-psk',
  KEY_HEX,
  ...extra,
];

describe.skipIf(!OPENSSL)(
  `OpenSSL s_client against the server${OPENSSL ? '' : ' (skipped: openssl is not installed)'}`,
  () => {
    for (const [cipher, name] of OPENSSL_SUITES) {
      it(`${cipher}: handshake, data both ways`, async () => {
        const before = accepted.length;
        await talk(
          'openssl',
          opensslArgs(['-cipher', cipher]),
          `hello-${cipher}`,
          /Verify return code|SSL-Session|Cipher is/,
        );
        expect(accepted[before]).toMatchObject({ identity: IDENTITY, cipherSuite: name, resumed: false });
      });
    }

    it('resumes a session (-sess_out, then -sess_in): an abbreviated handshake', async () => {
      const session = join(directory, 'session.pem');
      const first = await talk('openssl', opensslArgs(['-sess_out', session]), 'first', /SSL-Session/);
      expect(first).toMatch(/New, TLSv1\.2/);
      const before = accepted.length;
      const second = await talk('openssl', opensslArgs(['-sess_in', session]), 'second', /SSL-Session/);
      expect(second).toMatch(/Reused, TLSv1\.2/);
      expect(accepted[before]?.resumed).toBe(true);
    });

    it('renegotiation ("R" in s_client) is refused with no_renegotiation', async () => {
      const output = await new Promise<string>((resolve) => {
        const child = spawn('openssl', opensslArgs([]), { stdio: ['pipe', 'pipe', 'pipe'] });
        children.push(child);
        let text = '';
        let asked = false;
        const collect = (chunk: Buffer) => {
          text += chunk.toString();
          if (!asked && /SSL-Session/.test(text)) {
            asked = true;
            child.stdin.write('R\n');
          }
        };
        child.stdout.on('data', collect);
        child.stderr.on('data', collect);
        child.on('close', () => resolve(text));
        setTimeout(() => child.kill('SIGKILL'), 8000).unref();
      });
      expect(output).toMatch(/RENEGOTIATING/);
      expect(output).toMatch(/no renegotiation/i);
    });

    it('an unknown identity is refused with the unknown_psk_identity alert', async () => {
      const args = opensslArgs([]).map((arg) => (arg === IDENTITY ? 'hsn:1' : arg));
      const output = await new Promise<string>((resolve) => {
        const child = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
        children.push(child);
        let text = '';
        const collect = (chunk: Buffer) => {
          text += chunk.toString();
        };
        child.stdout.on('data', collect);
        child.stderr.on('data', collect);
        child.on('close', () => resolve(text));
        setTimeout(() => child.kill('SIGKILL'), 8000).unref();
      });
      expect(output).toMatch(/unknown psk identity/i);
    });
  },
);

const GNUTLS_SUITES = [
  ['AES-128-CCM-8', 'TLS_PSK_WITH_AES_128_CCM_8'],
  ['AES-128-CCM', 'TLS_PSK_WITH_AES_128_CCM'],
  ['AES-128-GCM', 'TLS_PSK_WITH_AES_128_GCM_SHA256'],
  ['AES-256-GCM', 'TLS_PSK_WITH_AES_256_GCM_SHA384'],
  ['AES-128-CBC:+SHA256', 'TLS_PSK_WITH_AES_128_CBC_SHA256'],
  ['AES-128-CBC:+SHA1', 'TLS_PSK_WITH_AES_128_CBC_SHA'],
  ['AES-256-CBC:+SHA1', 'TLS_PSK_WITH_AES_256_CBC_SHA'],
] as const;

describe.skipIf(!GNUTLS)(
  `GnuTLS gnutls-cli against the server${GNUTLS ? '' : ' (skipped: gnutls-cli is not installed)'}`,
  () => {
    for (const [cipher, name] of GNUTLS_SUITES) {
      it(`${cipher}: handshake, data both ways`, async () => {
        const before = accepted.length;
        await talk(
          'gnutls-cli',
          [
            '--udp',
            '--insecure',
            '--pskusername',
            IDENTITY,
            '--pskkey',
            KEY_HEX,
            '--port',
            String(port),
            '--priority',
            `NONE:+VERS-DTLS1.2:+PSK:+${cipher}:+SIGN-ALL:+COMP-NULL:+CTYPE-X509${cipher.includes('SHA') ? '' : ':+AEAD'}`,
            '127.0.0.1',
          ],
          `hello-${cipher}`,
          /Handshake was completed/,
        );
        expect(accepted[before]).toMatchObject({ identity: IDENTITY, cipherSuite: name });
      });
    }
  },
);
