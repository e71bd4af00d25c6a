import { defineCallSuite } from './behaviour-calls.js';
import { defineMessageSuite } from './behaviour-messages.js';

defineMessageSuite('memory');
defineCallSuite('memory');
