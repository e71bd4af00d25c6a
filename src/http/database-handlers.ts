/**
 * Ours, not rqlite's: several databases per cluster (docs/API.md, "Several databases").
 * `POST /db/create?db=NAME`, `POST /db/drop?db=NAME` (each a log entry; 200 with its
 * index) and `GET /db/list`.
 */
import type { Exchange } from './exchange.js';
import { badRequest, HttpError } from './http-error.js';
import type { ClusterService, DatabaseCatalogService } from '../service/service.js';

function catalogServiceOf(service: ClusterService): DatabaseCatalogService {
  const { changeDatabase, listDatabases } = service;
  if (changeDatabase === undefined || listDatabases === undefined) throw new HttpError(404, 'NOT_FOUND', 'several databases are not served by this node');
  return { changeDatabase: changeDatabase.bind(service), listDatabases: listDatabases.bind(service) };
}

async function handleChange(exchange: Exchange, service: ClusterService, change: 'create' | 'drop'): Promise<void> {
  const catalog = catalogServiceOf(service);
  const name = exchange.parameters.get('db');
  if (name === undefined) throw badRequest('db parameter not set');
  const request = { change, name, timeoutMs: exchange.parameters.timeoutMs, forward: !exchange.flag('redirect') };
  const answer = await exchange.callService(request.timeoutMs, (context) => catalog.changeDatabase(request, context));
  await exchange.sendJson(200, { database: name, raft_index: answer.raftIndex });
}

export function handleCreateDatabase(exchange: Exchange, service: ClusterService): Promise<void> {
  return handleChange(exchange, service, 'create');
}

export function handleDropDatabase(exchange: Exchange, service: ClusterService): Promise<void> {
  return handleChange(exchange, service, 'drop');
}

export async function handleListDatabases(exchange: Exchange, service: ClusterService): Promise<void> {
  const list = await catalogServiceOf(service).listDatabases();
  await exchange.sendJson(200, { databases: list.databases, count_max: list.countMax });
}
