/**
 * Child process for close.test.ts: talks to the node at argv[2], leaves a call hanging
 * on the silent node at argv[3], then closes the client and must exit on its own:
 * nothing of the client (sockets, timers, queued calls) may keep the event loop alive.
 */
import { createClient } from '../../../src/client/index.js';

const [url, silentUrl] = process.argv.slice(2);
if (url === undefined || silentUrl === undefined) throw new Error('usage: exit-probe URL SILENT_URL');
const client = createClient({ nodes: [url], timeoutMs: 120_000, deadlineMs: 120_000 });
await client.execute('CREATE TABLE IF NOT EXISTS probe (x)');
await client.query('SELECT count(*) FROM probe', { consistency: 'none' });
const hanging = createClient({ nodes: [silentUrl], timeoutMs: 120_000, deadlineMs: 120_000, discoverNodes: false });
const pending = hanging.query('SELECT 1').catch((error: { code?: string }) => error.code);
await new Promise((resolve) => setTimeout(resolve, 100));
await Promise.all([client.close(), hanging.close()]);
process.stdout.write(`${await pending}\n`);
