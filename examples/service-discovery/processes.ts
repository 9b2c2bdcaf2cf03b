// Child processes for the demo and its test: the example's programs started through tsx, their JSON log lines
// collected as they arrive, and a guarantee that nothing outlives the parent.
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';

/** The repository root (tsx is resolved from here even when the scripts run from a mutated copy). */
export const REPO_ROOT = resolve(import.meta.dirname, '../..');
const TSX_LOADER = join(REPO_ROOT, 'node_modules/tsx/dist/esm/index.mjs');
/** Output kept per child for failure messages; older text is dropped so a long run cannot grow memory. */
const OUTPUT_TAIL_CHARS = 16_000;

export interface LogLine {
  at: number;
  program: string;
  event: string;
  [field: string]: unknown;
}

export interface Child {
  name: string;
  pid: number;
  /** Every JSON log line the child printed so far, in order. */
  lines: LogLine[];
  /** The tail of everything it wrote (stdout and stderr), for diagnostics. */
  output(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  isRunning(): boolean;
  signal(signal: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

/** Children still running, with whether each leads its own process group. */
const running = new Map<ChildProcess, boolean>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const [child, group] of running) {
      try {
        // A child leading its own process group is killed with everything it started.
        if (group) process.kill(-child.pid!, 'SIGKILL');
        else child.kill('SIGKILL');
      } catch {
        // Already gone.
      }
    }
  });
}

export interface SpawnOptions {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** A new process group, so that stop() also reaches the grandchildren (raftsim cluster's members). */
  group?: boolean;
}

export function spawnChild(options: SpawnOptions): Child {
  const child = spawn(options.command, options.args, {
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.group ?? false,
  });
  running.set(child, options.group ?? false);
  installExitHook();
  const lines: LogLine[] = [];
  let output = '';
  let errors = '';
  let partial = '';
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    output = (output + chunk).slice(-OUTPUT_TAIL_CHARS);
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    for (const part of parts) {
      if (!part.startsWith('{')) continue;
      try {
        const parsed = JSON.parse(part) as LogLine;
        if (typeof parsed.event === 'string') lines.push(parsed);
      } catch {
        // Not one of our log lines; it stays in output() for diagnostics.
      }
    }
  });
  child.stderr!.on('data', (chunk: string) => {
    output = (output + chunk).slice(-OUTPUT_TAIL_CHARS);
    errors = (errors + chunk).slice(-OUTPUT_TAIL_CHARS);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) => {
    child.once('close', (code, signal) => {
      running.delete(child);
      resolveExit({ code, signal });
    });
    child.once('error', () => {
      running.delete(child);
      resolveExit({ code: null, signal: null });
    });
  });
  const isRunning = () => running.has(child);
  const sendSignal = (signal: NodeJS.Signals) => {
    if (!isRunning()) return;
    try {
      if (options.group) process.kill(-child.pid!, signal);
      else child.kill(signal);
    } catch {
      // Already gone.
    }
  };
  return {
    name: options.name,
    pid: child.pid ?? -1,
    lines,
    output: () => output,
    stderr: () => errors,
    exited,
    isRunning,
    signal: sendSignal,
    stop: async (graceMs = 5_000) => {
      if (!isRunning()) return;
      sendSignal('SIGTERM');
      const timer = setTimeout(() => sendSignal('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Starts one of the example's programs (`service.ts`, `render-upstream.ts`, ...) from `root`'s copy. */
export function spawnExample(root: string, script: string, args: string[], env: NodeJS.ProcessEnv, name = script): Child {
  return spawnChild({
    name,
    command: process.execPath,
    args: ['--import', TSX_LOADER, join(root, 'examples/service-discovery', script), ...args],
    env,
  });
}

/** Polls a condition on in-memory state (never the registry) until it holds or `timeoutMs` passes. */
export async function waitUntil(condition: () => boolean, timeoutMs: number, pollMs = 10): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (condition()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
