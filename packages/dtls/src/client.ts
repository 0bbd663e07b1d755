// The DTLS 1.2 PSK client: what the harness uses to play a device (Connection ID, NAT rebinding, impaired links)
// and what tests use against the server. One UDP socket per connection unless one is given.
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { DtlsConnection, type DtlsSession, type RetransmitOptions } from './connection.js';
import { resolveCipherSuites } from './crypto/suites.js';
import { DtlsError } from './errors.js';

export interface DtlsClientOptions {
  /** The server: an IP address (no name lookup: devices and tests talk to addresses). */
  host: string;
  port: number;
  identity: string;
  psk: Uint8Array;
  /** Suites offered, by id or IANA name, in preference order. Default: all, TLS_PSK_WITH_AES_128_CCM_8 first. */
  cipherSuites?: readonly (number | string)[];
  /**
   * RFC 9146: offer Connection IDs. The bytes are the CID the server puts on its records to this client; empty
   * means "I send with the server's CID, send me none" (what constrained devices do). Default: not offered.
   */
  connectionId?: Uint8Array;
  /** A session of an earlier connection (`connection.session`), for an abbreviated handshake. */
  session?: DtlsSession;
  /** Largest datagram sent. Default 1200. */
  mtu?: number;
  retransmit?: RetransmitOptions;
  /** The whole handshake must be done in this time. Default 30 s. */
  timeoutMs?: number;
  /** A socket to use (bound or not); by default one of its own, closed with the connection. */
  socket?: Socket;
}

/**
 * Connects to a DTLS 1.2 PSK server; resolves to the connection once the handshake is done.
 * @throws DtlsError `DTLS_TIMEOUT`, `DTLS_ALERT` (e.g. unknown_psk_identity), `DTLS_HANDSHAKE`.
 */
export async function connectDtls(options: DtlsClientOptions): Promise<DtlsConnection> {
  const family = isIP(options.host);
  if (family === 0) throw new DtlsError('DTLS_INVALID_OPTION', `host ${options.host} is not an IP address`);
  const socket = options.socket ?? createSocket(family === 6 ? 'udp6' : 'udp4');
  const ownSocket = options.socket === undefined;
  const peer = {
    address: options.host,
    port: options.port,
    family: family === 6 ? ('IPv6' as const) : ('IPv4' as const),
  };
  const connection = new DtlsConnection({
    role: 'client',
    peer,
    send: (datagram, to) => socket.send(datagram, to.port, to.address),
    cipherSuites: resolveCipherSuites(options.cipherSuites),
    mtu: options.mtu ?? 1200,
    identity: options.identity,
    key: options.psk,
    ...(options.connectionId === undefined ? {} : { ownCid: options.connectionId }),
    ...(options.session === undefined ? {} : { resume: options.session }),
    ...(options.retransmit === undefined ? {} : { retransmit: options.retransmit }),
  });
  const onMessage = (datagram: Buffer, remote: { address: string; port: number; family: string }) => {
    // Only the server's address: anything else is not this association's.
    if (remote.port !== options.port) return;
    connection.receive(new Uint8Array(datagram), peer);
  };
  socket.on('message', onMessage);
  const onSocketError = (error: Error) => connection.destroy(new DtlsError('DTLS_CLOSED', `socket: ${error.message}`));
  socket.on('error', onSocketError);
  connection.once('close', () => {
    socket.off('message', onMessage);
    socket.off('error', onSocketError);
    if (ownSocket) socket.close();
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      connection.destroy(
        new DtlsError(
          'DTLS_TIMEOUT',
          `handshake with ${options.host}:${options.port} not done in ${options.timeoutMs ?? 30_000} ms`,
        ),
      );
    }, options.timeoutMs ?? 30_000);
    timer.unref();
    const onError = (error: Error) => {
      clearTimeout(timer);
      connection.off('secure', onSecure);
      reject(error);
    };
    const onSecure = () => {
      clearTimeout(timer);
      connection.off('error', onError);
      resolve();
    };
    connection.once('secure', onSecure);
    connection.once('error', onError);
    connection.once('close', () => onError(new DtlsError('DTLS_CLOSED', 'the connection closed during the handshake')));
    connection.start();
  });
  return connection;
}
