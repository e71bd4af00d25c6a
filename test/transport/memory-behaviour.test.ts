import { defineCallSuite } from './behaviour-calls.js';
import { defineMessageSuite } from './behaviour-messages.js';
import { defineSnapshotSuite } from './behaviour-snapshots.js';
import { defineWireSuite } from './behaviour-wire.js';

defineMessageSuite('memory');
defineCallSuite('memory');
defineWireSuite('memory');
defineSnapshotSuite('memory');
