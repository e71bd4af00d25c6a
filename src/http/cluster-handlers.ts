/** `/status`, `/nodes`, `/leader`, `/remove`, `/readyz`, `/metrics`. */
import type { Server } from 'node:http';
import { formatGoDuration } from './duration.js';
import type { Exchange } from './exchange.js';
import { tlsStatusOf } from './https-server.js';
import type { HttpsOptions } from './options.js';
import { badRequest, errorCodeHeader, HttpError } from './http-error.js';
import type { JsonOutput } from './json-writer.js';
import { renderPrometheusText, type HttpMetrics } from './metrics.js';
import { parseJsonBody } from './request-body.js';
import {
  isServiceError,
  nodeIdLengthMax,
  type ClusterService,
  type NodeInfo,
  type ReadinessCheck,
  type StatusDocument,
  type StatusValue,
} from '../service/service.js';

export async function handleStatus(exchange: Exchange, service: ClusterService, _metrics: HttpMetrics, server: Server): Promise<void> {
  const key = exchange.parameters.get('key')?.trim() ?? '';
  const leaderNot = leaderNotOf(exchange);
  const { timeoutMs } = exchange.parameters;
  const request = leaderNot === undefined ? { key } : { key, leaderNot: { id: leaderNot, waitMs: timeoutMs } };
  // A leader_not wait may take all of `timeout`; the document (its checksum reads every row) then gets a `timeout` of its own.
  const budgetMs = leaderNot === undefined ? timeoutMs : 2 * timeoutMs;
  const nodeStatus = await exchange.callService(budgetMs, (context) => service.status(request, context));
  const status = {
    ...nodeStatus,
    http: { ...httpStatusOf(nodeStatus), ...httpLayerStatus(server, exchange.options.accessControl !== null, exchange.options.https) },
  };
  const selected = key === '' ? status : selectStatusKey(status, key);
  await exchange.sendJson(200, selected as JsonOutput);
}

/** `?leader_not=ID` (ours): wait, up to `timeout`, until this node knows a leader other than ID (leader-wait.ts). */
function leaderNotOf(exchange: Exchange): string | undefined {
  const id = exchange.parameters.get('leader_not');
  if (id === undefined) return undefined;
  if (id === '' || id.length > nodeIdLengthMax) throw badRequest(`leader_not must be a node id of 1 to ${nodeIdLengthMax} characters`);
  return id;
}

function httpStatusOf(status: StatusDocument): { readonly [key: string]: StatusValue } {
  const section = status['http'];
  return typeof section === 'object' && section !== null && !Array.isArray(section) ? (section as { readonly [key: string]: StatusValue }) : {};
}

/** What rqlite's `http` section says of the listener: its bound address (as Go writes one), whether it checks credentials, and its TLS. */
function httpLayerStatus(server: Server, authEnabled: boolean, https: HttpsOptions | null): Record<string, StatusValue> {
  const address = server.address();
  const bound = typeof address === 'object' && address !== null ? address : undefined;
  const host = bound === undefined ? '' : bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  return {
    bind_addr: bound === undefined ? String(address ?? '') : `${host}:${bound.port}`,
    auth: authEnabled ? 'enabled' : 'disabled',
    tls: tlsStatusOf(https),
  };
}

/**
 * `?key=store.raft` walks into the nested document as rqlite does: a key missing from an
 * object gives `{}` (HTTP 200), and a value that is not an object ends the walk there,
 * whatever keys remain (`store.raft.state.x` is the state).
 */
export function selectStatusKey(status: StatusValue, key: string): StatusValue {
  let current: StatusValue = status;
  for (const step of key.split('.')) {
    if (typeof current !== 'object' || current === null || Array.isArray(current) || typeof current === 'bigint') return current;
    const record = current as { readonly [key: string]: StatusValue };
    if (!Object.hasOwn(record, step)) return {};
    current = record[step] as StatusValue;
  }
  return current;
}

export async function handleNodes(exchange: Exchange, service: ClusterService): Promise<void> {
  const version = exchange.parameters.get('ver');
  if (version !== undefined && version !== '1' && version !== '2') {
    throw badRequest(`unsupported nodes format version ${JSON.stringify(version)}: use ver=2 or leave it out`);
  }
  const nonVoters = exchange.flag('nonvoters');
  const request = { nonVoters, timeoutMs: exchange.parameters.timeoutMs };
  const all = await exchange.callService(request.timeoutMs, (context) => service.nodes(request, context));
  const nodes = all.filter((node) => nonVoters || node.voter);
  if (version === '2') {
    await exchange.sendJson(200, { nodes: nodes.map(shapeNode) });
    return;
  }
  const byId: Record<string, JsonOutput> = Object.create(null) as Record<string, JsonOutput>;
  for (const node of nodes) byId[node.id] = shapeNode(node);
  await exchange.sendJson(200, byId);
}

/** rqlite's node object; `api_addr`, `addr`, `version`, `time`, `time_s`, `error` omitted when empty. */
export function shapeNode(node: NodeInfo): { readonly [key: string]: JsonOutput | undefined } {
  const measured = node.timeSeconds !== null && node.timeSeconds > 0;
  return {
    id: node.id,
    api_addr: node.apiAddress === '' ? undefined : node.apiAddress,
    addr: node.raftAddress === '' ? undefined : node.raftAddress,
    version: node.version === '' ? undefined : node.version,
    voter: node.voter,
    reachable: node.reachable,
    leader: node.leader,
    time: measured ? (node.timeSeconds ?? undefined) : undefined,
    time_s: measured ? formatGoDuration(node.timeSeconds ?? 0) : undefined,
    error: node.error === '' ? undefined : node.error,
  };
}

export async function handleLeaderGet(exchange: Exchange, service: ClusterService): Promise<void> {
  const request = { timeoutMs: exchange.parameters.timeoutMs };
  const leader = await exchange.callService(request.timeoutMs, (context) => service.leader(request, context));
  if (leader === null) throw new HttpError(503, 'NO_LEADER', 'leader not found');
  await exchange.sendJson(200, shapeNode(leader));
}

export async function handleLeaderPost(exchange: Exchange, service: ClusterService): Promise<void> {
  const body = await exchange.readBodyText(exchange.options.controlBodyBytesMax);
  const id = body.trim().length === 0 ? null : readIdBody(body, 'optional');
  const request = {
    id,
    wait: exchange.flag('wait'),
    timeoutMs: exchange.parameters.timeoutMs,
    forward: !exchange.flag('redirect'),
  };
  await exchange.callService(request.timeoutMs, (context) => service.stepDown(request, context));
  exchange.sendEmpty(200);
}

export async function handleRemove(exchange: Exchange, service: ClusterService): Promise<void> {
  const body = await exchange.readBodyText(exchange.options.controlBodyBytesMax);
  const id = readIdBody(body, 'required');
  const request = {
    id,
    timeoutMs: exchange.parameters.timeoutMs,
    forward: !exchange.flag('redirect'),
  };
  await exchange.callService(request.timeoutMs, (context) => service.remove(request, context));
  exchange.sendEmpty(200);
}

/** A body that is exactly `{"id": "<node id>"}` (rqlite refuses anything else). */
export function readIdBody(body: string, presence: 'required' | 'optional'): string {
  const expected = presence === 'required' ? 'exactly {"id":"<node id>"}' : 'empty or exactly {"id":"<node id>"}';
  const parsed = parseJsonBody(body, 2);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || typeof parsed === 'bigint') {
    throw badRequest(`invalid request: the body must be ${expected}`);
  }
  const keys = Object.keys(parsed);
  const id = parsed['id'];
  if (keys.length !== 1 || typeof id !== 'string' || id.length === 0) {
    throw badRequest(`invalid request: the body must be ${expected}`);
  }
  return id;
}

export async function handleReadyz(exchange: Exchange, service: ClusterService): Promise<void> {
  if (exchange.flag('noleader')) {
    exchange.sendText(200, '[+]node ok');
    return;
  }
  const request = { sync: exchange.flag('sync'), timeoutMs: exchange.parameters.timeoutMs };
  let checks: readonly ReadinessCheck[];
  try {
    checks = await exchange.callService(request.timeoutMs, (context) => service.readiness(request, context));
  } catch (error) {
    if (!isServiceError(error) || error.code === 'UNAUTHORIZED' || error.code === 'FORBIDDEN') throw error;
    // A failure to answer is itself a failed check: no leader, or the store is not ready.
    const failed = error.code === 'NO_LEADER' || error.code === 'NOT_LEADER' ? 'leader' : 'store';
    checks = [{ name: failed, ok: false, message: error.message }];
  }
  const { lines, ready } = readinessLines(checks);
  if (!ready) exchange.setHeader(errorCodeHeader, 'NOT_READY');
  exchange.sendText(ready ? 200 : 503, lines.join('\n'));
}

/** `[+]node ok`, then one line a check up to and including the first failure. */
export function readinessLines(checks: readonly ReadinessCheck[]): { lines: string[]; ready: boolean } {
  const lines = ['[+]node ok'];
  for (const check of checks) {
    if (!check.ok) {
      lines.push(`[-]${check.name} failed: ${check.message === '' ? 'not ready' : check.message}`);
      return { lines, ready: false };
    }
    lines.push(`[+]${check.name} ok`);
  }
  return { lines, ready: true };
}

export async function handleMetrics(exchange: Exchange, service: ClusterService, httpMetrics: HttpMetrics): Promise<void> {
  const families = await exchange.callService(exchange.parameters.timeoutMs, () => service.metrics());
  const text = renderPrometheusText([...families, ...httpMetrics.families()]);
  exchange.sendText(200, text, 'text/plain; version=0.0.4; charset=utf-8');
}
