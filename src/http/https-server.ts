/**
 * The HTTPS listener (rqlited -http-cert …): node:https with the same request handling
 * as the plain server. With mutual TLS a client must present a certificate the CA
 * signed, or the handshake fails; with a required Common Name, a client whose
 * certificate names another is cut off before any request is read.
 */
import type { Server, ServerOptions } from 'node:http';
import { createServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { HttpsOptions } from './options.js';
import type { StatusValue } from '../service/service.js';

/** The only application protocol served (rqlite's Go server also offers h2). */
const applicationProtocols = ['http/1.1'];

export function createHttpsServer(serverOptions: ServerOptions, https: HttpsOptions, handshakeTimeoutMs: number): Server {
  const server = createServer({
    ...serverOptions,
    cert: https.cert,
    key: https.key,
    ...(https.ca === undefined ? {} : { ca: https.ca }),
    ALPNProtocols: applicationProtocols,
    handshakeTimeout: handshakeTimeoutMs,
    ...(https.verifyClient ? { requestCert: true, rejectUnauthorized: true } : {}),
  });
  const commonName = https.clientCommonName;
  if (https.verifyClient && commonName !== undefined) {
    // Runs in the handshake's own turn, before the connection's first bytes are parsed.
    server.on('secureConnection', (socket: TLSSocket) => {
      if (socket.getPeerCertificate().subject?.CN !== commonName) socket.destroy();
    });
  }
  // A failed handshake (no certificate, another CA) ends that socket only.
  server.on('tlsClientError', (_error: Error, socket: TLSSocket) => socket.destroy());
  return server;
}

/** New certificate, key and CA for connections accepted from now on; open ones keep theirs. */
export function updateHttpsCertificates(server: Server, material: { readonly cert: Buffer; readonly key: Buffer; readonly ca?: Buffer | undefined }): void {
  const secure = server as Server & { setSecureContext?: (options: object) => void };
  if (secure.setSecureContext === undefined) throw new Error('the HTTP API serves plain HTTP: there are no certificates to update');
  secure.setSecureContext({ cert: material.cert, key: material.key, ...(material.ca === undefined ? {} : { ca: material.ca }) });
}

/** rqlite's `http.tls` in /status: whether TLS is on and, when it is, how. */
export function tlsStatusOf(https: HttpsOptions | null): Record<string, StatusValue> {
  if (https === null) return { enabled: 'disabled' };
  return {
    enabled: 'enabled',
    client_auth: https.verifyClient ? 'RequireAndVerifyClientCert' : 'NoClientCert',
    cert_file: https.certFile,
    key_file: https.keyFile,
    ca_file: https.caFile,
    next_protos: applicationProtocols,
  };
}
