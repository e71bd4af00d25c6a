/** The transport a Node client uses: the one given, fetch when given, else undici keep-alive pools. */
import type { ClientConfig } from './options.js';
import { FetchTransport, type HttpTransport } from './transport.js';
import { defaultUndiciTransportOptions, UndiciTransport } from './undici-transport.js';

export function pickTransport(config: ClientConfig): HttpTransport {
  if (config.transport !== undefined) return config.transport;
  if (config.fetch !== undefined) return new FetchTransport(config.fetch);
  return new UndiciTransport({
    ...defaultUndiciTransportOptions,
    connectionsPerNodeMax: config.connectionsPerNodeMax ?? defaultUndiciTransportOptions.connectionsPerNodeMax,
    ...(config.tls === undefined ? {} : { tls: config.tls }),
  });
}
