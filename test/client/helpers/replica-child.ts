/**
 * Child process for replica.test.ts: opens an embedded replica on the file argv[2], fed by
 * the nodes argv[3..], and prints its applied index on stdout every millisecond, until the
 * test kills it (kill -9, in the middle of its catch-up).
 */
import { createClient } from '../../../src/replica/index.js';

const [path, ...nodes] = process.argv.slice(2);
if (path === undefined || nodes.length === 0) throw new Error('usage: replica-child PATH NODE_URL...');
const client = createClient({ nodes, replica: { path } });
setInterval(() => process.stdout.write(`${client.replica.progress.appliedIndex}\n`), 1);
