// Running real client programs (curl, etcdctl) from tests: bounded in time, output captured, skipped with a
// clear message when the program is not installed.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';

/** Whether `program` runs on this machine (CI installs curl and Debian's etcd-client). */
export function available(program: string, versionArgs: string[] = ['--version'], env: Record<string, string> = {}): boolean {
  const run = spawnSync(program, versionArgs, { encoding: 'utf8', timeout: 10_000, env: { ...process.env, ...env } });
  return run.error === undefined && run.status === 0;
}

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion (killed after timeoutMs). */
export function runTool(program: string, args: string[], options: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<ToolResult> {
  return new Promise((resolve) => {
    execFile(program, args, { encoding: 'utf8', timeout: options.timeoutMs ?? 15_000, env: { ...process.env, ...options.env } }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

export interface Background {
  child: ChildProcess;
  output(): string;
  /** Resolves when `text` has appeared in stdout (rejects after timeoutMs). */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const backgrounds = new Set<Background>();

/** Starts a long-running client (a watch); stopAllBackground ends whatever a test left running. */
export function startBackground(program: string, args: string[], env: Record<string, string> = {}): Background {
  const child = spawn(program, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr?.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const bg: Background = {
    child,
    output: () => out,
    waitFor: async (text, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!(typeof text === 'string' ? out.includes(text) : text.test(out))) {
        if (Date.now() > deadline) throw new Error(`${program} ${args.join(' ')}: no ${String(text)} within ${timeoutMs} ms; output: ${out.slice(-500)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    stop: async () => {
      backgrounds.delete(bg);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
  backgrounds.add(bg);
  return bg;
}

export async function stopAllBackground(): Promise<void> {
  await Promise.all([...backgrounds].map((b) => b.stop()));
}
