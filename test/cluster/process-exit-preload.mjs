// Preloaded into every test file by scripts/run-tests.mjs (`--import`): loads
// process-exit.ts in a test file's main thread. Plain JavaScript, because worker threads
// inherit the preload: a worker started from dist/ has no TypeScript loader, and a worker
// is no test file (the module would only install signal handlers and hooks there).
import { isMainThread } from 'node:worker_threads';

if (isMainThread) await import(new URL('./process-exit.ts', import.meta.url).href);
