#!/usr/bin/env node
// Tidy: the structural rules a formatter and a linter cannot see, in the spirit of
// TigerBeetle's tidy.zig. Each rule names the file and line it objects to:
//   layers        what may import what (the table below); keeps the Raft core pure and
//                 the client free of server code, since it ships to browsers
//   dead-exports  an export from src/ that no other file in src/, test/ or bench/
//                 imports and no public entry re-exports: delete it or stop exporting it
//   line-length   a line longer than the formatter's width (biome.jsonc lineWidth): the
//                 formatter cannot break strings and comments, so these are left to us
//   file-length   a file in src/ over fileLinesMax lines: split it, one idea per file
//   outside-refs  a reference to a file outside the repository, anywhere but docs/
// Usage: node scripts/tidy.mjs [--root DIR]. Exits 1 when any rule objects.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

const fileLinesMax = 500;
const lineWidthFallback = 160;
/** The public entries (package.json "exports"): everything they export is in use. */
const publicEntries = [
  'src/index.ts',
  'src/client/index.ts',
  'src/client/browser.ts',
  'src/replica/index.ts',
  'src/drivers/kysely/index.ts',
  'src/drivers/drizzle/index.ts',
];
/** Folders whose code the formatter owns, so the line width applies to them. */
const formattedFolders = ['src', 'test', 'bench', 'scripts'];
const formattedExtensions = ['.ts', '.mjs', '.js'];
/** Folders of analysed TypeScript: exports live in src/, imports come from all three. */
const codeFolders = ['src', 'test', 'bench'];
/** Never walked when the tree is not a git checkout (a test's scratch copy). */
const skippedNames = new Set(['.git', 'node_modules', 'dist', 'data', '.tmp']);

/**
 * What each layer (a folder of src/) may import, by value and by type only. A type-only
 * import (`import type`, or `import { type A }` with every name marked) leaves nothing
 * behind in JavaScript, so it couples two layers' shapes but not their code. `valueFiles`
 * names single files of another layer whose values may be imported too: storage takes
 * RaftStorageError and entryOverheadBytes from the storage contract in src/raft/types.ts.
 * Files directly in src/ (the package entry) and src/cli may import anything; src/server is
 * the composition root, the one place that knows both the node and HTTP.
 */
const layers = {
  raft: { values: ['raft'], types: [] },
  common: { values: ['common'], types: [] },
  storage: { values: ['storage', 'common'], types: ['raft'], valueFiles: ['src/raft/types.ts'] },
  'state-machine': { values: ['state-machine', 'common'], types: [] },
  transport: { values: ['transport', 'common'], types: [] },
  service: { values: ['service', 'common'], types: ['state-machine'] },
  node: { values: ['node', 'raft', 'storage', 'state-machine', 'transport', 'service', 'common'], types: [] },
  http: { values: ['http', 'service', 'common'], types: ['state-machine'] },
  client: { values: ['client', 'common'], types: [] },
  // The embedded replica (quorumlite/replica): the client with the nodes' state machine applying the log in the application's process.
  replica: { values: ['replica', 'client', 'state-machine', 'common'], types: [] },
  // The ORM drivers (quorumlite/kysely, quorumlite/drizzle): the client and their optional peer dependencies, nothing of the server.
  drivers: { values: ['drivers', 'client', 'common'], types: [] },
  // Backups and the point-in-time archive: the state machine (copies, replay, entry times) and its own ports to the node.
  backup: { values: ['backup', 'state-machine', 'common'], types: [] },
  // The composition root: wires storage, state machine, transport, core, runtime, HTTP and backups.
  server: { values: ['server', 'node', 'http', 'raft', 'storage', 'state-machine', 'transport', 'service', 'backup', 'common'], types: [] },
  cli: 'any',
};

/**
 * Layers no other file of src/ may import, the package entry and the CLI included: the ORM
 * drivers load optional peer dependencies (kysely, drizzle-orm), which the rest of the
 * package must run without. They are reached only through their own package exports.
 */
const leafLayers = new Set(['drivers']);

// Built from pieces so that this file does not match its own rule.
const outsideReferences = [['..', 'shared'].join('/'), ...['DESIGN', 'STYLE', 'RQLITE_API', 'PEERS'].map((name) => `${name}.md`)];

function parseArguments(argv) {
  const rootIndex = argv.indexOf('--root');
  const root = rootIndex === -1 ? new URL('..', import.meta.url).pathname : argv[rootIndex + 1];
  if (root === undefined) throw new Error('--root needs a directory');
  return { root: resolve(root) };
}

/** Repository files, relative with '/' separators: git's list when there is one. */
function listFiles(root) {
  if (existsSync(join(root, '.git'))) {
    const output = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: root, encoding: 'utf8' });
    return output
      .split('\0')
      .filter((path) => path !== '' && !skippedNames.has(path.split('/')[0]) && isFile(join(root, path)))
      .sort();
  }
  const files = [];
  const walk = (directory) => {
    for (const name of readdirSync(directory).sort()) {
      if (skippedNames.has(name)) continue;
      const path = join(directory, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.push(relative(root, path).split(sep).join('/'));
    }
  };
  walk(root);
  return files;
}

function isFile(path) {
  return existsSync(path) && statSync(path).isFile();
}

function readLineWidth(root) {
  for (const name of ['biome.jsonc', 'biome.json']) {
    const path = join(root, name);
    if (!existsSync(path)) continue;
    const match = /"lineWidth"\s*:\s*(\d+)/.exec(readFileSync(path, 'utf8'));
    if (match) return Number(match[1]);
  }
  return lineWidthFallback;
}

// ---- Reading imports and exports -------------------------------------------------

/** `src/node/x.ts` for a relative specifier that points into src/ (or into dist/). */
function resolveSpecifier(fromFile, specifier, sourceFiles) {
  if (!specifier.startsWith('.')) return undefined;
  const joined = join(dirname(fromFile), specifier).split(sep).join('/');
  const candidates = [joined, joined.replace(/\.js$/, '.ts'), joined.replace(/\.mjs$/, '.mts'), `${joined}.ts`, `${joined}/index.ts`];
  for (const candidate of candidates.flatMap((path) => [path, path.replace(/^dist\//, 'src/').replace(/\.js$/, '.ts')])) {
    if (sourceFiles.has(candidate)) return candidate;
  }
  return undefined;
}

function hasModifier(node, kind) {
  return ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((modifier) => modifier.kind === kind);
}

function bindingNames(name) {
  if (ts.isIdentifier(name)) return [name.text];
  return name.elements.flatMap((element) => (ts.isOmittedExpression(element) ? [] : bindingNames(element.name)));
}

function isTypeOnlyImport(statement) {
  const clause = statement.importClause;
  if (clause === undefined) return false;
  if (clause.isTypeOnly) return true;
  if (clause.name !== undefined || clause.namedBindings === undefined || !ts.isNamedImports(clause.namedBindings)) return false;
  const elements = clause.namedBindings.elements;
  return elements.length > 0 && elements.every((element) => element.isTypeOnly);
}

function isTypeOnlyExport(statement) {
  if (statement.isTypeOnly) return true;
  const clause = statement.exportClause;
  return clause !== undefined && ts.isNamedExports(clause) && clause.elements.length > 0 && clause.elements.every((element) => element.isTypeOnly);
}

/** Names a declaration statement exports: `export const a`, `export default class`… */
function declaredExports(statement) {
  if (!hasModifier(statement, ts.SyntaxKind.ExportKeyword)) return [];
  if (hasModifier(statement, ts.SyntaxKind.DefaultKeyword)) return ['default'];
  if (ts.isVariableStatement(statement)) return statement.declarationList.declarations.flatMap((declaration) => bindingNames(declaration.name));
  return statement.name !== undefined && ts.isIdentifier(statement.name) ? [statement.name.text] : [];
}

/** The names a dynamic `const { a, b } = await import('x')` takes, or 'all'. */
function dynamicImportNames(call) {
  let node = call.parent;
  while (node !== undefined && (ts.isAwaitExpression(node) || ts.isParenthesizedExpression(node))) node = node.parent;
  if (node !== undefined && ts.isVariableDeclaration(node) && ts.isObjectBindingPattern(node.name)) {
    const elements = node.name.elements;
    if (elements.every((element) => element.dotDotDotToken === undefined)) {
      return elements.map((element) => (element.propertyName ?? element.name).getText());
    }
  }
  return 'all';
}

/**
 * One file's module surface: `imports` (specifier, line, typeOnly, names: a list or
 * 'all'), `exports` (name → line of a local declaration), `reexports` (exported name →
 * { specifier, name }, where name 'all' is `export * as ns`) and `stars` (specifiers of
 * `export * from`).
 */
function readModule(path, text) {
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const lineOf = (node) => source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
  const surface = { imports: [], exports: new Map(), reexports: new Map(), stars: [] };
  for (const statement of source.statements) readStatement(statement, surface, lineOf);
  const visit = (node) => {
    if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments.length > 0 &&
      ts.isStringLiteralLike(node.arguments[0])
    ) {
      surface.imports.push({ specifier: node.arguments[0].text, line: lineOf(node), typeOnly: false, names: dynamicImportNames(node) });
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      const qualifier = node.qualifier === undefined ? undefined : leftmostIdentifier(node.qualifier);
      surface.imports.push({ specifier: node.argument.literal.text, line: lineOf(node), typeOnly: true, names: qualifier === undefined ? 'all' : [qualifier] });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return surface;
}

function leftmostIdentifier(name) {
  return ts.isIdentifier(name) ? name.text : leftmostIdentifier(name.left);
}

function readStatement(statement, surface, lineOf) {
  const line = lineOf(statement);
  if (ts.isImportDeclaration(statement) && ts.isStringLiteral(statement.moduleSpecifier)) {
    surface.imports.push({ specifier: statement.moduleSpecifier.text, line, typeOnly: isTypeOnlyImport(statement), names: importedNames(statement) });
  } else if (ts.isExportDeclaration(statement)) {
    readExportDeclaration(statement, surface, line);
  } else if (ts.isExportAssignment(statement)) {
    surface.exports.set('default', line);
  } else {
    for (const name of declaredExports(statement)) surface.exports.set(name, line);
  }
}

function importedNames(statement) {
  const clause = statement.importClause;
  if (clause === undefined) return [];
  const names = clause.name === undefined ? [] : ['default'];
  const bindings = clause.namedBindings;
  if (bindings !== undefined && ts.isNamespaceImport(bindings)) return 'all';
  if (bindings !== undefined) names.push(...bindings.elements.map((element) => (element.propertyName ?? element.name).text));
  return names;
}

function readExportDeclaration(statement, surface, line) {
  const specifier = statement.moduleSpecifier !== undefined && ts.isStringLiteral(statement.moduleSpecifier) ? statement.moduleSpecifier.text : undefined;
  const clause = statement.exportClause;
  if (specifier !== undefined) {
    const names =
      clause === undefined ? 'all' : ts.isNamespaceExport(clause) ? 'all' : clause.elements.map((element) => (element.propertyName ?? element.name).text);
    surface.imports.push({ specifier, line, typeOnly: isTypeOnlyExport(statement), names, reexport: true });
  }
  if (clause === undefined) {
    if (specifier !== undefined) surface.stars.push(specifier);
    return;
  }
  if (ts.isNamespaceExport(clause)) {
    surface.reexports.set(clause.name.text, { specifier, name: 'all', line });
    return;
  }
  for (const element of clause.elements) {
    const exported = element.name.text;
    const local = (element.propertyName ?? element.name).text;
    if (specifier === undefined) surface.exports.set(exported, line);
    else surface.reexports.set(exported, { specifier, name: local, line });
  }
}

// ---- Rules --------------------------------------------------------------------------

function layerOf(path) {
  const parts = path.split('/');
  if (parts[0] !== 'src') return undefined;
  return parts.length === 2 ? 'root' : parts[1];
}

function checkLayers(modules, sourceFiles) {
  const problems = [];
  for (const [path, surface] of modules) {
    const from = layerOf(path);
    if (from === undefined) continue;
    problems.push(...checkLeafImports(path, from, surface, sourceFiles));
    if (from === 'root') continue;
    const rule = layers[from];
    if (rule === 'any') continue;
    for (const entry of surface.imports) {
      const target = resolveSpecifier(path, entry.specifier, sourceFiles);
      const to = target === undefined ? undefined : layerOf(target);
      if (to === undefined || to === from) continue;
      if (rule === undefined) {
        problems.push(`${path}:${entry.line}: src/${from} is not a known layer (add it to the table in scripts/tidy.mjs)`);
        break;
      }
      const valueFiles = rule.valueFiles ?? [];
      if (rule.values.includes(to) || valueFiles.includes(target) || (entry.typeOnly && rule.types.includes(to))) continue;
      const files = valueFiles.filter((file) => layerOf(file) === to);
      const allowed = rule.types.includes(to) ? ` (types only: use \`import type\`${files.map((file) => `, or values from ${file}`).join('')})` : '';
      problems.push(`${path}:${entry.line}: src/${from} may not import src/${to}${allowed}: ${entry.specifier}`);
    }
  }
  return problems;
}

/** Imports of a leaf layer from outside it (see leafLayers). */
function checkLeafImports(path, from, surface, sourceFiles) {
  const problems = [];
  for (const entry of surface.imports) {
    const target = resolveSpecifier(path, entry.specifier, sourceFiles);
    const to = target === undefined ? undefined : layerOf(target);
    if (to !== undefined && to !== from && leafLayers.has(to)) {
      problems.push(`${path}:${entry.line}: nothing outside src/${to} may import it (optional peer dependencies): ${entry.specifier}`);
    }
  }
  return problems;
}

/** Every (file, name) some other file uses, followed through re-exports and `export *`. */
function liveExports(modules, sourceFiles) {
  const live = new Set();
  const pending = [];
  const use = (file, name) => {
    const key = `${file}\0${name}`;
    if (live.has(key)) return;
    live.add(key);
    pending.push([file, name]);
  };
  const wholeFiles = new Set(); // guards `export *` cycles
  const useAll = (file) => {
    if (wholeFiles.has(file)) return;
    wholeFiles.add(file);
    const surface = modules.get(file);
    for (const name of [...surface.exports.keys(), ...surface.reexports.keys()]) use(file, name);
    for (const specifier of surface.stars) {
      const target = resolveSpecifier(file, specifier, sourceFiles);
      if (target !== undefined) useAll(target);
    }
  };
  for (const entry of publicEntries) if (modules.has(entry)) useAll(entry);
  for (const [path, surface] of modules) {
    for (const entry of surface.imports) {
      const target = resolveSpecifier(path, entry.specifier, sourceFiles);
      if (target === undefined || target === path || entry.reexport) continue;
      if (entry.names === 'all') useAll(target);
      else for (const name of entry.names) use(target, name);
    }
  }
  while (pending.length > 0) {
    const [file, name] = pending.pop();
    followExport(modules, sourceFiles, file, name, use, useAll);
  }
  return live;
}

/** A live name of `file` that `file` itself takes from elsewhere makes its source live. */
function followExport(modules, sourceFiles, file, name, use, useAll) {
  const surface = modules.get(file);
  const reexport = surface.reexports.get(name);
  if (reexport !== undefined) {
    const target = resolveSpecifier(file, reexport.specifier, sourceFiles);
    if (target === undefined) return;
    if (reexport.name === 'all') useAll(target);
    else use(target, reexport.name);
    return;
  }
  if (surface.exports.has(name)) return;
  for (const specifier of surface.stars) {
    const target = resolveSpecifier(file, specifier, sourceFiles);
    if (target !== undefined) use(target, name);
  }
}

function checkDeadExports(modules, sourceFiles) {
  const live = liveExports(modules, sourceFiles);
  const problems = [];
  for (const [path, surface] of modules) {
    if (!path.startsWith('src/')) continue;
    const exported = [...surface.exports, ...[...surface.reexports].map(([name, reexport]) => [name, reexport.line])];
    for (const [name, line] of exported.sort((a, b) => a[1] - b[1])) {
      if (!live.has(`${path}\0${name}`)) problems.push(`${path}:${line}: '${name}' is exported but no other file imports it`);
    }
  }
  return problems;
}

function checkLineLength(files, texts, lineWidth) {
  const problems = [];
  for (const path of files) {
    const inFolder = formattedFolders.some((folder) => path.startsWith(`${folder}/`));
    if (!inFolder || !formattedExtensions.some((extension) => path.endsWith(extension))) continue;
    texts(path)
      .split('\n')
      .forEach((line, index) => {
        const width = [...line].length;
        if (width > lineWidth) problems.push(`${path}:${index + 1}: ${width} characters, over the width of ${lineWidth}`);
      });
  }
  return problems;
}

function checkFileLength(files, texts) {
  const problems = [];
  for (const path of files) {
    if (!path.startsWith('src/') || !path.endsWith('.ts')) continue;
    const lineCount = texts(path).replace(/\n$/, '').split('\n').length;
    if (lineCount > fileLinesMax) problems.push(`${path}: ${lineCount} lines, over the limit of ${fileLinesMax}`);
  }
  return problems;
}

function checkOutsideReferences(files, texts) {
  const problems = [];
  for (const path of files) {
    if (path.startsWith('docs/')) continue;
    const text = texts(path);
    if (text.includes('\0')) continue; // binary
    text.split('\n').forEach((line, index) => {
      for (const reference of outsideReferences) {
        if (line.includes(reference)) problems.push(`${path}:${index + 1}: refers to ${reference}, which is outside the repository`);
      }
    });
  }
  return problems;
}

// ---- Main ---------------------------------------------------------------------------

function runTidy(root) {
  const files = listFiles(root);
  const cache = new Map();
  const texts = (path) => {
    if (!cache.has(path)) cache.set(path, readFileSync(join(root, path), 'utf8'));
    return cache.get(path);
  };
  const codeFiles = files.filter((path) => codeFolders.some((folder) => path.startsWith(`${folder}/`)) && /\.m?ts$/.test(path));
  const sourceFiles = new Set(codeFiles.filter((path) => path.startsWith('src/')));
  const modules = new Map(codeFiles.map((path) => [path, readModule(path, texts(path))]));
  const results = {
    layers: checkLayers(modules, sourceFiles),
    'dead-exports': checkDeadExports(modules, sourceFiles),
    'line-length': checkLineLength(files, texts, readLineWidth(root)),
    'file-length': checkFileLength(files, texts),
    'outside-refs': checkOutsideReferences(files, texts),
  };
  const exportCount = [...modules.values()].reduce((sum, surface) => sum + surface.exports.size + surface.reexports.size, 0);
  const importCount = [...modules.values()].reduce((sum, surface) => sum + surface.imports.length, 0);
  return { results, summary: `${files.length} files, ${modules.size} modules, ${importCount} imports, ${exportCount} exports` };
}

const { root } = parseArguments(process.argv.slice(2));
const { results, summary } = runTidy(root);
const counts = Object.entries(results).map(([rule, problems]) => `${rule} ${problems.length}`);
const total = Object.values(results).reduce((sum, problems) => sum + problems.length, 0);
for (const [rule, problems] of Object.entries(results)) {
  for (const problem of problems) console.error(`${rule}: ${problem}`);
}
console.log(`tidy: checked ${summary}`);
if (total > 0) {
  console.error(`tidy: ${total} problems (${counts.join(', ')})`);
  process.exit(1);
}
console.log('tidy: clean');
