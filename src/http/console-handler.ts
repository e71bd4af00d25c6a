/**
 * `/console` (ours): the web console, plain HTML, CSS and JavaScript shipped in the
 * package's `console/` folder and served as they are (nothing to build on the user's
 * machine). The page holds no data, so it needs no permission; what it shows comes from
 * /status, /nodes and /metrics (`status`) and its SQL box from /db/request (`execute`
 * and `query`) or /db/query (`query`), each checked as usual with the credentials the
 * page asks for. Only the fixed files below are served: no path reaches the disk.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Exchange } from './exchange.js';
import { HttpError } from './http-error.js';

const consoleAssets: ReadonlyMap<string, { readonly file: string; readonly contentType: string }> = new Map([
  ['/console', { file: 'index.html', contentType: 'text/html; charset=utf-8' }],
  ['/console/console.js', { file: 'console.js', contentType: 'text/javascript; charset=utf-8' }],
  ['/console/console.css', { file: 'console.css', contentType: 'text/css; charset=utf-8' }],
]);

export const consolePaths: readonly string[] = [...consoleAssets.keys()];

/** The page's own scripts and styles only, talking to this node only; never framed. */
const contentSecurityPolicy = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** `console/` beside `dist/` (the package) or beside `src/` (a checkout run through tsx): both are two levels up. */
const consoleDirectory = fileURLToPath(new URL('../../console/', import.meta.url));
const cachedTexts = new Map<string, string>();

function assetText(file: string): string {
  let text = cachedTexts.get(file);
  if (text === undefined) {
    try {
      text = readFileSync(`${consoleDirectory}${file}`, 'utf8');
    } catch (error) {
      throw new HttpError(500, 'INTERNAL', `the console's ${file} is missing from this installation (${String(error)})`);
    }
    cachedTexts.set(file, text);
  }
  return text;
}

export async function handleConsole(exchange: Exchange): Promise<void> {
  const asset = consoleAssets.get(exchange.path);
  if (asset === undefined) throw new HttpError(404, 'NOT_FOUND', `not found: ${exchange.path}`);
  const text = assetText(asset.file);
  exchange.setHeader('Content-Security-Policy', contentSecurityPolicy);
  exchange.setHeader('X-Content-Type-Options', 'nosniff');
  exchange.setHeader('Cache-Control', 'no-cache');
  exchange.sendText(200, text, asset.contentType);
}
