/**
 * Child processes for the comparison benchmark: spawn with a log file, stop by PID only
 * (kill -9 or SIGTERM with a bounded wait), and memory and CPU samples from /proc/PID.
 * Nothing here matches processes by name. Ports: ports.ts; bounded polling: waiting.ts.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants, openSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { timedOut, withinMs } from '../../src/common/within.js';

export const terminateWaitMs = 10_000;

/** The full path of `command` on PATH (as given in `pathVariable`), or undefined. */
export function findOnPath(command: string, pathVariable = process.env.PATH ?? ''): string | undefined {
  for (const directory of pathVariable.split(delimiter)) {
    if (directory === '') continue;
    const candidate = join(directory, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here: keep looking
    }
  }
  return undefined;
}

/** One child process with its output appended to a log file. */
export class ManagedProcess {
  readonly command: string;
  readonly argumentList: readonly string[];
  readonly logPath: string;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  /** Set when the spawn itself failed (no such program): never running. */
  #spawnError: Error | undefined;

  constructor(command: string, argumentList: readonly string[], logPath: string) {
    this.command = command;
    this.argumentList = argumentList;
    this.logPath = logPath;
  }

  get pid(): number | undefined {
    return this.running ? this.#child?.pid : undefined;
  }

  get running(): boolean {
    const child = this.#child;
    return child !== undefined && this.#spawnError === undefined && child.exitCode === null && child.signalCode === null;
  }

  start(argumentList: readonly string[] = this.argumentList): void {
    if (this.running) throw new Error(`${this.command} is already running`);
    const log = openSync(this.logPath, 'a');
    const child = spawn(this.command, [...argumentList], { stdio: ['ignore', log, log], env: { ...process.env, TZ: 'UTC' } });
    closeSync(log);
    this.#child = child;
    this.#spawnError = undefined;
    this.#exited = new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', (error) => {
        this.#spawnError = error; // a failed spawn emits no 'exit'
        resolve();
      });
    });
  }

  /** kill -9 by PID and wait for the exit. */
  async kill(): Promise<void> {
    const pid = this.pid;
    if (pid === undefined) return;
    process.kill(pid, 'SIGKILL');
    await this.#exited;
  }

  /** SIGSTOP by PID: the process keeps its sockets open and answers nothing (a hung node). */
  pause(): void {
    const pid = this.pid;
    if (pid === undefined) throw new Error(`${this.command} is not running`);
    process.kill(pid, 'SIGSTOP');
  }

  /** SIGCONT by PID; a no-op when the process is gone. */
  resume(): void {
    const pid = this.pid;
    if (pid !== undefined) process.kill(pid, 'SIGCONT');
  }

  /** SIGTERM, then kill -9 if it has not exited within terminateWaitMs. */
  async terminate(): Promise<void> {
    const pid = this.pid;
    if (pid === undefined) return;
    process.kill(pid, 'SIGTERM');
    if ((await withinMs(this.#exited, terminateWaitMs)) === timedOut) await this.kill();
  }

  get spawnError(): Error | undefined {
    return this.#spawnError;
  }

  logTail(lineCount = 20): string {
    try {
      return readFileSync(this.logPath, 'utf8').split('\n').slice(-lineCount).join('\n');
    } catch {
      return '';
    }
  }
}

export interface MemorySample {
  readonly residentBytes: number;
  readonly highWaterBytes: number;
}

/** VmRSS and VmHWM of a live process, from /proc/PID/status; undefined if it is gone. */
export function readMemory(pid: number): MemorySample | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kibibytes = (field: string): number => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    return match === null ? 0 : Number(match[1]) * 1024;
  };
  return { residentBytes: kibibytes('VmRSS'), highWaterBytes: kibibytes('VmHWM') };
}

/** Linux's USER_HZ, the unit of /proc/PID/stat's times (`getconf CLK_TCK`; 100 if that fails). */
let clockTicksPerSecondCached: number | undefined;
function clockTicksPerSecond(): number {
  if (clockTicksPerSecondCached === undefined) {
    let ticks = Number.NaN;
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5_000 }).trim());
    } catch {
      // no getconf: Linux's USER_HZ is 100 on every common architecture
    }
    clockTicksPerSecondCached = Number.isInteger(ticks) && ticks > 0 ? ticks : 100;
  }
  return clockTicksPerSecondCached;
}

/** CPU time (user + system, every thread) a live process has used, from /proc/PID/stat; undefined if it is gone. */
export function readCpuSeconds(pid: number): number | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Fields after the command name, which is in parentheses and may hold spaces: state is
  // field 3 of proc(5), utime 14 and stime 15.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const userTicks = Number(fields[14 - 3]);
  const systemTicks = Number(fields[15 - 3]);
  if (!(Number.isFinite(userTicks) && Number.isFinite(systemTicks))) return undefined;
  return (userTicks + systemTicks) / clockTicksPerSecond();
}
