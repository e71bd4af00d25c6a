/**
 * A request the HTTP layer refuses before reaching the service. It becomes a plain
 * text body (`message` and a newline, like Go's `http.Error` in rqlite) with `status`.
 */
export class HttpError extends Error {
  override readonly name = 'HttpError';

  constructor(
    readonly status: number,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

export function badRequest(message: string): HttpError {
  return new HttpError(400, message);
}
