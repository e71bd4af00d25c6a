#!/usr/bin/env node
/**
 * The `quorumlite` command: serve | shell | status | version | help.
 *
 * Only light modules are imported statically. The server is imported dynamically after
 * TZ=UTC is set, so SQLite (loaded by the state machine) never sees another time zone:
 * the 'localtime' modifier must mean the same on every node.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { packageVersion } from './version.js';
import { parseServeFlags, serveUsage, UsageError } from './serve-flags.js';
import { versionLine } from './version-line.js';

const usage = `Usage: quorumlite <command> [flags]

Commands:
  serve     run a node (quorumlite serve --help for its flags)
  shell     interactive SQL shell against a node
  status    print a summary of a node and its cluster (--http-addr HOST:PORT, default
            127.0.0.1:4001; --json prints its /status document; over HTTPS with
            --ca-cert FILE, --client-cert FILE --client-key FILE, --insecure; Basic
            credentials with --user NAME:PASSWORD or QUORUMLITE_USER)
  restore   point-in-time restore from the backup archive (quorumlite restore --help)
  version   print the version
  help      show this help
`;

/** Exit codes: 0 success, 1 runtime failure, 2 usage error (bad flags or values). */
const exitUsage = 2;

interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

async function runShellCommand(argv: readonly string[]): Promise<number> {
  const { runShell } = await import('./shell.js');
  return runShell([...argv]);
}

async function runServeCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const options = parseServeFlags(argv);
  if (options === 'help') {
    io.stdout(serveUsage);
    return 0;
  }
  process.env.TZ = 'UTC';
  if (options === 'version') {
    // rqlited -version: one line naming the build, then exit 0.
    io.stdout(`${await versionLine()}\n`);
    return 0;
  }
  const { runServe } = await import('./serve.js');
  return runServe(options);
}

async function runRestore(argv: readonly string[], io: CliIo): Promise<number> {
  // The replay runs the state machine, which must see TZ=UTC, as serve does.
  process.env.TZ = 'UTC';
  const { runRestoreCommand } = await import('./restore-command.js');
  return runRestoreCommand(argv, { ...io, progress: process.stderr });
}

/** Runs one CLI invocation; returns the exit code (serve resolves when the node stops). */
export async function runCli(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve':
        return await runServeCommand(rest, io);
      case 'shell':
        return await runShellCommand(rest);
      case 'status': {
        // Imported here: status-command loads undici, which `serve` does not need.
        const { runStatus } = await import('./status-command.js');
        return await runStatus(rest, io.stdout);
      }
      case 'restore':
        return await runRestore(rest, io);
      case 'version':
      case '--version':
        io.stdout(`quorumlite ${packageVersion()}\n`);
        return 0;
      case 'help':
      case '--help':
      case undefined:
        io.stdout(usage);
        return command === undefined ? exitUsage : 0;
      default:
        io.stderr(`quorumlite: unknown command ${JSON.stringify(command)}\n${usage}`);
        return exitUsage;
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`quorumlite ${command}: ${error.message}\n`);
      return exitUsage;
    }
    io.stderr(`quorumlite ${command}: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

function isInvokedDirectly(): boolean {
  const scriptPath = process.argv[1];
  if (scriptPath === undefined) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(scriptPath)).href;
  } catch {
    return false;
  }
}

if (isInvokedDirectly()) {
  runCli(process.argv.slice(2)).then(
    (code) => {
      // A stopped server may leave no handle worth waiting for; exit with its code.
      process.exit(code);
    },
    (error: unknown) => {
      process.stderr.write(`quorumlite: ${String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
