/**
 * HTTP Basic credentials given as `NAME:PASSWORD` (the shell's `-u/--user`, `quorumlite
 * status --user`, and QUORUMLITE_USER for both): parsed once, sent as one header.
 */
export interface BasicCredentials {
  readonly username: string;
  readonly password: string;
}

/** `NAME:PASSWORD` split at its first colon (the password may hold more); 'invalid' without one. */
export function parseBasicCredentials(text: string): BasicCredentials | 'invalid' {
  const colon = text.indexOf(':');
  if (colon < 0) return 'invalid';
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** The `Authorization` header value for `user`. */
export function basicAuthorization(user: BasicCredentials): string {
  return `Basic ${Buffer.from(`${user.username}:${user.password}`, 'utf8').toString('base64')}`;
}
