// Self-registration: a service announces its own address under `<prefix>/<service>/<instance>` with a short
// TTL, keeps it alive every second, and removes it on SIGTERM/SIGINT. Killed outright (SIGKILL, a crash, a
// lost host), it stops refreshing and etcd expires the key after the TTL.
//
// Run beside any service as a sidecar:
//   SERVICE_NAME=web SERVICE_HOST=127.0.0.1 SERVICE_PORT=8081 npx tsx examples/service-discovery/register.ts \
//     --endpoints http://127.0.0.1:2379,http://127.0.0.1:22379
// or import `selfRegister` into the service itself, as service.ts does.
import { parseFlags, parseInteger } from '../../bin/args.ts';
import {
  DEFAULT_PREFIX,
  DEFAULT_REFRESH_MS,
  DEFAULT_TTL_SECONDS,
  UsageError,
  isMain,
  isValidHost,
  isValidName,
  makeLogger,
  parseLogFormat,
  parsePortText,
  parsePrefix,
  requireEnv,
  resolveEndpoints,
  runMain,
  untilStopSignal,
  type Logger,
} from './cli.ts';
import { Registration, encodeAddress, every, instanceKey } from './registration.ts';
import { V2Client } from './v2client.ts';

export const REGISTER_USAGE =
  'SERVICE_NAME=web SERVICE_HOST=127.0.0.1 SERVICE_PORT=8081 [SERVICE_INSTANCE=id] register.ts ' +
  '[--endpoints URLS] [--prefix /services] [--ttl 3] [--refresh-ms 1000] [--log text|json]';

export interface ServiceIdentity {
  service: string;
  /** The instance id, the last key segment; defaults to `<host>-<port>`. */
  instance: string;
  host: string;
  port: number;
}

/**
 * Reads SERVICE_NAME, SERVICE_HOST, SERVICE_PORT and the optional SERVICE_INSTANCE. With `allowPortZero` a
 * port of 0 is accepted (the caller binds a free port and registers that one); the instance id then has to be
 * derived later, so it is left empty unless given.
 */
export function readServiceEnv(env: NodeJS.ProcessEnv, allowPortZero = false): ServiceIdentity {
  const service = requireEnv(env, 'SERVICE_NAME', 'the service name, e.g. web');
  if (!isValidName(service)) throw new UsageError(`SERVICE_NAME must be letters, digits, '_', '.' or '-', got '${service}'`);
  const host = requireEnv(env, 'SERVICE_HOST', 'the address other services reach this one at, e.g. 127.0.0.1');
  if (!isValidHost(host)) throw new UsageError(`SERVICE_HOST must be a hostname or IP address, got '${host}'`);
  const port = parsePortText('SERVICE_PORT', requireEnv(env, 'SERVICE_PORT', 'the port this service listens on'), allowPortZero);
  const given = env.SERVICE_INSTANCE?.trim() ?? '';
  if (given !== '' && !isValidName(given)) throw new UsageError(`SERVICE_INSTANCE must be letters, digits, '_', '.' or '-', got '${given}'`);
  return { service, host, port, instance: given !== '' ? given : port === 0 ? '' : defaultInstance(host, port) };
}

export function defaultInstance(host: string, port: number): string {
  return `${host.replace(/[^A-Za-z0-9_.-]/g, '_')}-${port}`;
}

export interface AgentSettings {
  endpoints: string[];
  prefix: string;
  ttlSeconds: number;
  refreshMs: number;
  log: Logger;
}

/** The flags register.ts and service.ts share. */
export function parseAgentFlags(program: string, argv: string[], env: NodeJS.ProcessEnv): AgentSettings {
  const { values, positionals } = parseFlags(argv, {
    endpoints: { type: 'string' },
    prefix: { type: 'string' },
    ttl: { type: 'string' },
    'refresh-ms': { type: 'string' },
    log: { type: 'string' },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const ttlSeconds = parseInteger('--ttl', values.ttl, DEFAULT_TTL_SECONDS, 1);
  const refreshMs = parseInteger('--refresh-ms', values['refresh-ms'], DEFAULT_REFRESH_MS, 1);
  if (refreshMs >= ttlSeconds * 1000) {
    throw new UsageError(`--refresh-ms (${refreshMs}) must be shorter than --ttl (${ttlSeconds} s), or the key expires between refreshes`);
  }
  return {
    endpoints: resolveEndpoints(values.endpoints, env),
    prefix: parsePrefix(values.prefix ?? DEFAULT_PREFIX),
    ttlSeconds,
    refreshMs,
    log: makeLogger(program, parseLogFormat(values.log)),
  };
}

/**
 * Registers `identity` and keeps it registered until `signal` aborts, then deregisters it. Outages of etcd are
 * logged and ridden out (the next tick retries), never fatal: a service should not die because its registry
 * blinked.
 */
export async function selfRegister(identity: ServiceIdentity, settings: AgentSettings, signal: AbortSignal): Promise<void> {
  const client = new V2Client({ endpoints: settings.endpoints });
  const registration = new Registration({
    client,
    key: instanceKey(settings.prefix, identity.service, identity.instance),
    value: encodeAddress(identity),
    ttlSeconds: settings.ttlSeconds,
    log: settings.log,
  });
  await every(settings.refreshMs, signal, async () => {
    await registration.tick();
  });
  await registration.deregister();
}

async function main(): Promise<number> {
  const identity = readServiceEnv(process.env);
  const settings = parseAgentFlags('register', process.argv.slice(2), process.env);
  const { stopped, controller } = untilStopSignal();
  const running = selfRegister(identity, settings, controller.signal);
  // An unexpected failure of the loop ends the program instead of waiting for a signal that may never come.
  const signal = await Promise.race([stopped, running.then(() => stopped)]);
  await running;
  settings.log('stopped', { signal });
  return 0;
}

if (isMain(import.meta.url)) runMain('register', main);
