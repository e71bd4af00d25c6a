/**
 * Which nodes the shell talks to. rqlite's way: `-H host -p port -s scheme -P prefix`,
 * `-a host:port,host:port` as fallbacks, or `RQLITE_HOST=scheme://host:port` when no
 * -H/-p/-s is given. quorumlite's way: `--host` (or QUORUMLITE_HOST) holding
 * `http(s)://` URLs separated by commas. Each node becomes one base URL with the prefix
 * in it (`http://127.0.0.1:4001`, `https://db.example:4001/rqlite`), the first one first.
 */
export interface HostFlags {
  readonly host: string | undefined;
  readonly port: string | undefined;
  readonly scheme: string | undefined;
  readonly prefix: string | undefined;
  readonly alternatives: string | undefined;
}

interface HostError {
  readonly message: string;
  readonly rqliteMessage: string;
}

interface HostSource {
  readonly entries: readonly string[];
  readonly scheme: string;
  readonly port: number;
}

const defaultHost = '127.0.0.1';
const defaultPort = 4001;
const portMax = 65_535;

export function buildHosts(flags: HostFlags, environment: Readonly<Record<string, string | undefined>>): string[] | HostError {
  const port = parsePort(flags.port);
  if (typeof port === 'object') return port;
  const source = chooseSource(flags, port, environment);
  if ('message' in source) return source;
  if (source.scheme !== 'http' && source.scheme !== 'https') {
    return { message: '--scheme must be http or https', rqliteMessage: `unsupported protocol scheme ${JSON.stringify(source.scheme)}` };
  }
  const prefix = (flags.prefix ?? '/').replace(/^\/+|\/+$/g, '');
  const entries = [...source.entries, ...splitList(flags.alternatives)];
  if (entries.length === 0) return { message: '--host names no node', rqliteMessage: '--host names no node' };
  const bases: string[] = [];
  for (const entry of entries) {
    const base = baseUrl(entry, source.scheme, source.port);
    if (base === undefined) return { message: `not a node address: ${JSON.stringify(entry)}`, rqliteMessage: `not a node address: ${JSON.stringify(entry)}` };
    bases.push(prefix === '' ? base : `${base}/${prefix}`);
  }
  return bases;
}

function chooseSource(flags: HostFlags, port: number | undefined, environment: Readonly<Record<string, string | undefined>>): HostSource | HostError {
  // rqlite reads RQLITE_HOST only when none of -H, -p, -s is given.
  if (flags.host !== undefined || port !== undefined || flags.scheme !== undefined) {
    return { entries: splitList(flags.host ?? defaultHost), scheme: flags.scheme ?? 'http', port: port ?? defaultPort };
  }
  const rqliteHost = environment.RQLITE_HOST;
  if (rqliteHost !== undefined && rqliteHost !== '') return parseRqliteHost(rqliteHost);
  const quorumliteHost = environment.QUORUMLITE_HOST;
  if (quorumliteHost !== undefined && quorumliteHost !== '') return { entries: splitList(quorumliteHost), scheme: 'http', port: defaultPort };
  return { entries: [defaultHost], scheme: 'http', port: defaultPort };
}

function parsePort(text: string | undefined): number | undefined | HostError {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) return { message: '--port must be a port number', rqliteMessage: `\`${text}\` couldn't convert to an uint value` };
  const port = Number(text);
  if (port > portMax) return { message: '--port must be a port number', rqliteMessage: 'value overflow' };
  return port;
}

/** RQLITE_HOST as rqlite reads it: `[http|https://]host[:port]` with a host required. */
function parseRqliteHost(text: string): HostSource | HostError {
  const error = (message: string): HostError => ({ message, rqliteMessage: message });
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(text)?.[1];
  if (scheme !== undefined && scheme !== 'http' && scheme !== 'https') return error(`unsupported protocol ${scheme}`);
  if (scheme === undefined || !text.startsWith(`${scheme}://`)) return error('RQLITE_HOST does not contain a hostname');
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return error('RQLITE_HOST does not contain a hostname');
  }
  if (url.hostname === '') return error('RQLITE_HOST does not contain a hostname');
  return { entries: [url.hostname], scheme, port: url.port === '' ? defaultPort : Number(url.port) };
}

function splitList(text: string | undefined): string[] {
  if (text === undefined) return [];
  return text
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
}

/** `http://a:1` stays a URL; `host`, `host:port`, `::1` and `[::1]:port` get the scheme and, when missing, the port. */
function baseUrl(entry: string, scheme: string, port: number): string | undefined {
  if (entry.includes('://')) {
    try {
      const url = new URL(entry);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
      return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`;
    } catch {
      return undefined;
    }
  }
  const colonCount = entry.split(':').length - 1;
  let hostPort: string;
  if (entry.startsWith('[')) hostPort = entry.includes(']:') ? entry : `${entry}:${port}`;
  else if (colonCount === 1) hostPort = entry;
  else if (colonCount > 1) hostPort = `[${entry}]:${port}`;
  else hostPort = `${entry}:${port}`;
  try {
    return new URL(`${scheme}://${hostPort}`).href.replace(/\/$/, '');
  } catch {
    return undefined;
  }
}

/**
 * The user and password written into a node URL (`--host http://user:password@host`,
 * RQLITE_HOST, QUORUMLITE_HOST), the first one found: the base URLs drop them (fetch
 * refuses a URL that holds credentials), and the shell sends them as HTTP Basic unless
 * -u/--user says otherwise.
 */
export function credentialsInHosts(
  flags: HostFlags,
  environment: Readonly<Record<string, string | undefined>>,
): { readonly username: string; readonly password: string } | undefined {
  const explicit = flags.host !== undefined || flags.port !== undefined || flags.scheme !== undefined;
  const rqliteHost = environment.RQLITE_HOST === '' ? undefined : environment.RQLITE_HOST;
  const chosen = explicit ? flags.host : (rqliteHost ?? environment.QUORUMLITE_HOST);
  for (const entry of [...splitList(chosen), ...splitList(flags.alternatives)]) {
    if (!entry.includes('://')) continue;
    try {
      const url = new URL(entry);
      if (url.username !== '' || url.password !== '') return { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
    } catch {
      // buildHosts reports a malformed address
    }
  }
  return undefined;
}

/** `host:port` of a base URL, the port always written (rqlite's prompt and banner show it). */
export function hostAndPort(base: string): string {
  const url = new URL(base);
  if (url.port !== '') return url.host;
  return `${url.host}:${url.protocol === 'https:' ? 443 : 80}`;
}
