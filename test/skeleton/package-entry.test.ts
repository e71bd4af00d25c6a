import assert from 'node:assert/strict';
import { test } from 'node:test';
import ts from 'typescript';
import * as entry from '../../src/index.js';

// The package entry is a deliberate list: these names and no others. A name added to it,
// or one of the Raft core's types leaking back through `export *`, fails here.
const valueNames = ['QuorumNode', 'ServiceError', 'defaultClusterId', 'isServiceError', 'nodeConfigDefaults', 'resolveNodeConfig', 'silentLogger'];
const typeNames = ['NodeConfig', 'NodeConfigInput', 'NodeId', 'NodeLogger', 'QuorumNodeOptions', 'ServiceErrorCode'];

test('the package entry exports the node, its config, the logger and the service error as values', () => {
  assert.deepEqual(Object.keys(entry).sort(), [...valueNames].sort());
});

test('the package entry exports exactly the listed names, types included, and nothing of Raft', () => {
  const entryPath = new URL('../../src/index.ts', import.meta.url).pathname;
  const program = ts.createProgram([entryPath], { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, noEmit: true });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(entryPath);
  assert.ok(source !== undefined);
  const moduleSymbol = checker.getSymbolAtLocation(source);
  assert.ok(moduleSymbol !== undefined);
  const exported = checker.getExportsOfModule(moduleSymbol).map((symbol) => symbol.name);
  assert.deepEqual(exported.sort(), [...valueNames, ...typeNames].sort());
});

test('a node config resolves from the entry alone, and its errors are ServiceErrors', () => {
  const config = entry.resolveNodeConfig({
    nodeId: 'n1',
    raftAdvertisedAddress: '127.0.0.1:4002',
    apiAdvertisedAddress: '127.0.0.1:4001',
    dataDirectory: '/tmp/n1',
  });
  assert.equal(config.heartbeatMs, entry.nodeConfigDefaults.heartbeatMs);
  assert.throws(
    () => entry.resolveNodeConfig({ ...config, heartbeatMs: 0 }),
    (error: unknown) => entry.isServiceError(error) && error instanceof entry.ServiceError && error.code === 'BAD_REQUEST',
  );
});
