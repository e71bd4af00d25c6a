/**
 * Kept for modules that still import Go durations from here; the one implementation
 * is src/common/duration.ts.
 */
export { formatDurationSeconds as formatGoDuration } from '../common/duration.js';
