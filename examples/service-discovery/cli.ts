// What the example's programs share at their edges: reading endpoints, environment variables and flags, logging
// one line per event, and turning bad input into one line on stderr with exit code 2.
import { pathToFileURL } from 'node:url';
import { UsageError } from '../../bin/usage.ts';
import { EndpointsSyntaxError, parseEndpoints } from './v2client.ts';

export { UsageError };

/** Environment variable holding the endpoint list when --endpoints is not given. */
export const ENDPOINTS_ENV = 'DISCOVERY_ENDPOINTS';
export const DEFAULT_ENDPOINTS = 'http://127.0.0.1:2379';
/** Where registrations live unless told otherwise: `<prefix>/<service>/<instance>`. */
export const DEFAULT_PREFIX = '/services';
export const DEFAULT_TTL_SECONDS = 3;
export const DEFAULT_REFRESH_MS = 1_000;

/**
 * Service and instance names become etcd key segments and nginx upstream names, so both are held to a
 * conservative alphabet: nothing that needs escaping in a URL or could break out of an nginx directive.
 */
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/;
/** A hostname, IPv4 address or bracketed IPv6 address; no spaces, semicolons or braces. */
const HOST = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]{1,253})$/;

export function isValidName(name: string): boolean {
  return NAME.test(name);
}

export function isValidHost(host: string): boolean {
  return HOST.test(host);
}

export function isValidPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65535;
}

/** The endpoints from --endpoints, else $DISCOVERY_ENDPOINTS, else etcd's default client URL. */
export function resolveEndpoints(flag: string | undefined, env: NodeJS.ProcessEnv): string[] {
  const text = flag ?? env[ENDPOINTS_ENV] ?? DEFAULT_ENDPOINTS;
  try {
    return parseEndpoints(text);
  } catch (err) {
    if (err instanceof EndpointsSyntaxError) throw new UsageError(err.message);
    throw err;
  }
}

/** A key prefix such as `/services`: absolute, no trailing slash, segments from the name alphabet. */
export function parsePrefix(text: string): string {
  const segments = text.split('/').filter((s) => s !== '');
  if (!text.startsWith('/') || segments.length === 0 || !segments.every(isValidName)) {
    throw new UsageError(`--prefix must be an absolute key path like /services, got '${text}'`);
  }
  return '/' + segments.join('/');
}

/** A required environment variable, or a usage error naming it. */
export function requireEnv(env: NodeJS.ProcessEnv, name: string, what: string): string {
  const value = env[name];
  if (value === undefined || value.trim() === '') throw new UsageError(`${name} is not set (${what})`);
  return value.trim();
}

export function parsePortText(label: string, text: string, allowZero = false): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(isValidPort(port) || (allowZero && port === 0))) {
    throw new UsageError(`${label} must be a port number between ${allowZero ? 0 : 1} and 65535, got '${text}'`);
  }
  return port;
}

export type LogFormat = 'text' | 'json';

export function parseLogFormat(text: string | undefined): LogFormat {
  if (text === undefined || text === 'text' || text === 'json') return text ?? 'text';
  throw new UsageError(`--log must be text or json, got '${text}'`);
}

export type Logger = (event: string, fields?: Record<string, unknown>) => void;

/**
 * One line per event on stdout. `json` lines carry a millisecond timestamp so that the demo and the test can
 * order what different processes saw; `text` is for people.
 */
export function makeLogger(program: string, format: LogFormat, write: (line: string) => void = (l) => process.stdout.write(l)): Logger {
  return (event, fields = {}) => {
    if (format === 'json') {
      write(JSON.stringify({ at: Date.now(), program, event, ...fields }) + '\n');
    } else {
      const details = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
      write(`${program}: ${[event, ...details].join(' ')}\n`);
    }
  };
}

export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolveSleep) => {
    if (signal?.aborted) return resolveSleep();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolveSleep();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/** True when `importMetaUrl` is the script node was started with (so a module can be both library and program). */
export function isMain(importMetaUrl: string): boolean {
  const entry = process.argv[1];
  return entry !== undefined && pathToFileURL(entry).href === importMetaUrl;
}

/**
 * Runs a program's main function: usage errors are one line on stderr and exit 2, anything else unexpected is
 * one line and exit 1 (a long-running agent reports, it does not dump a stack at its operator).
 */
export function runMain(program: string, main: () => Promise<number>): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      if (err instanceof UsageError) {
        process.stderr.write(`${program}: ${err.message}\n`);
        process.exitCode = 2;
      } else {
        process.stderr.write(`${program}: ${err instanceof Error ? err.message : String(err)}\n`);
        process.exitCode = 1;
      }
    },
  );
}

/** Resolves on the first SIGTERM or SIGINT, with the signal's name. */
export function untilStopSignal(): { stopped: Promise<NodeJS.Signals>; controller: AbortController } {
  const controller = new AbortController();
  const stopped = new Promise<NodeJS.Signals>((resolveStop) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      controller.abort();
      resolveStop(signal);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  return { stopped, controller };
}
