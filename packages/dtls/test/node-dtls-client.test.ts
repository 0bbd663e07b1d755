// Interop with node-dtls-client (npm), a DTLS client written independently in TypeScript: every PSK suite it
// offers that this server speaks, data both ways; the ones it offers that this server does not speak
// (3DES, AES_256_CBC_SHA384, AES_256_CCM_8) get handshake_failure.
import { dtls } from 'node-dtls-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDtlsServer, type DtlsServer } from '../src/server.js';

// node-dtls-client takes the key as a string and uses its bytes.
const IDENTITY = 'hsn:2159017985';
const SECRET = 'chester-psk-0001';
let server: DtlsServer;
let port = 0;
const accepted: string[] = [];

beforeAll(async () => {
  server = createDtlsServer({
    psk: (identity) => (identity === IDENTITY ? new TextEncoder().encode(SECRET) : undefined),
  });
  port = (await server.listen(0, '127.0.0.1')).port;
  server.on('secureConnection', (connection) => {
    accepted.push(connection.cipherSuite ?? '');
    connection.on('error', () => {});
    connection.on('data', (data: Uint8Array) => connection.send(Uint8Array.from([...data, 0x21])));
  });
});
afterAll(() => server.close());

function exchange(cipher: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = dtls.createSocket({
      type: 'udp4',
      address: '127.0.0.1',
      port,
      psk: { [IDENTITY]: SECRET },
      timeout: 2000,
      ciphers: [cipher as never],
    });
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error(`${cipher}: no answer in 5 s`));
    }, 5000);
    socket.on('connected', () => socket.send(Buffer.from('ping')));
    socket.on('message', (message: Buffer) => {
      clearTimeout(timer);
      socket.close();
      resolve(message);
    });
    socket.on('error', (error: Error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

describe('node-dtls-client against the server', () => {
  for (const cipher of [
    'TLS_PSK_WITH_AES_128_CCM_8',
    'TLS_PSK_WITH_AES_128_GCM_SHA256',
    'TLS_PSK_WITH_AES_256_GCM_SHA384',
    'TLS_PSK_WITH_AES_128_CBC_SHA256',
    'TLS_PSK_WITH_AES_128_CBC_SHA',
    'TLS_PSK_WITH_AES_256_CBC_SHA',
  ]) {
    it(`${cipher}: handshake, data both ways`, async () => {
      expect((await exchange(cipher)).toString()).toBe('ping!');
      expect(accepted.at(-1)).toBe(cipher);
    });
  }

  for (const cipher of [
    'TLS_PSK_WITH_3DES_EDE_CBC_SHA',
    'TLS_PSK_WITH_AES_256_CBC_SHA384',
    'TLS_PSK_WITH_AES_256_CCM_8',
  ]) {
    it(`${cipher} (not spoken here): refused with handshake_failure`, async () => {
      await expect(exchange(cipher)).rejects.toThrow(/handshake_failure|handshake failure|40/i);
    });
  }
});
