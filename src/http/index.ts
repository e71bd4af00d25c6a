/** The rqlite-compatible HTTP API: the server, and the service seam the runtime implements. */
export { createHttpServer, type HttpApiServer } from './server.js';
export { serviceErrorToHttp } from './error-replies.js';
export { httpServerDefaults, resolveHttpServerOptions, type HttpLogger, type HttpServerOptions } from './options.js';
export * from '../service/service.js';
export { parseStatementsBody, toSqlValue, plainStatement } from './statements.js';
export { parseJson, JsonSyntaxError, type JsonValue } from './json-reader.js';
export { writeJsonString, writeJsonChunks, AssociativeRows, type JsonOutput } from './json-writer.js';
export { shapeDataResponse, shapeResult, type ShapeOptions } from './results.js';
export { parseDurationMs, formatDurationSeconds, DurationError } from '../common/duration.js';
export { renderPrometheusText } from './metrics.js';
export { HttpError, errorCodeHeader, httpErrorCodes, type HttpErrorCode } from './http-error.js';
