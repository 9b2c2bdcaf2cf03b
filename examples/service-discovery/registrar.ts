// Third-party registration: for services that cannot register themselves, a registrar health-checks each
// configured target (GET <url>/health, 2xx within a bound = healthy) every second and registers it on its
// behalf with the same TTL scheme as self-registration (registration.ts). A target that fails its checks is
// removed at once, without waiting for the TTL; if the registrar itself dies, its registrations expire.
//
//   npx tsx examples/service-discovery/registrar.ts --target web/a=http://127.0.0.1:8081 \
//     --target web/b=http://127.0.0.1:8082 --endpoints http://127.0.0.1:2379
import { request } from 'node:http';
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
  parsePrefix,
  resolveEndpoints,
  runMain,
  untilStopSignal,
  type Logger,
} from './cli.ts';
import { Registration, encodeAddress, every, instanceKey } from './registration.ts';
import { V2Client } from './v2client.ts';

export const REGISTRAR_USAGE =
  'registrar.ts --target SERVICE/INSTANCE=http://HOST:PORT [--target ...] [--endpoints URLS] [--prefix /services] ' +
  '[--ttl 3] [--interval-ms 1000] [--unhealthy-after 1] [--health-timeout-ms 500] [--log text|json]';

export interface Target {
  service: string;
  instance: string;
  /** Base URL health checks go to (`<url>/health`); its host and port are what gets registered. */
  url: string;
  host: string;
  port: number;
}

/** `web/a=http://127.0.0.1:8081` -> a target; a usage error naming the problem otherwise. */
export function parseTarget(text: string): Target {
  const match = /^([^/=]+)\/([^/=]+)=(.+)$/.exec(text);
  if (match === null) throw new UsageError(`--target must look like SERVICE/INSTANCE=http://HOST:PORT, got '${text}'`);
  const [, service, instance, urlText] = match as unknown as [string, string, string, string];
  if (!isValidName(service) || !isValidName(instance)) {
    throw new UsageError(`--target '${text}': service and instance must be letters, digits, '_', '.' or '-'`);
  }
  let url: URL;
  try {
    url = new URL(urlText);
  } catch {
    throw new UsageError(`--target '${text}': '${urlText}' is not a URL`);
  }
  if (url.protocol !== 'http:' || url.port === '' || url.pathname !== '/' || url.search !== '') {
    throw new UsageError(`--target '${text}': the URL must be http://HOST:PORT with an explicit port and no path`);
  }
  if (!isValidHost(url.hostname)) throw new UsageError(`--target '${text}': '${url.hostname}' is not a usable host`);
  return { service, instance, url: `http://${url.host}`, host: url.hostname, port: Number(url.port) };
}

/** GET <url>/health; healthy when it answers 2xx within `timeoutMs`. Never throws. */
export function checkHealth(url: string, timeoutMs: number): Promise<{ healthy: boolean; detail: string }> {
  return new Promise((resolveCheck) => {
    let settled = false;
    const settle = (healthy: boolean, detail: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolveCheck({ healthy, detail });
    };
    const req = request(`${url}/health`, { method: 'GET', agent: false }, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      res.on('end', () => settle(status >= 200 && status < 300, `HTTP ${status}`));
      res.on('error', () => settle(false, 'reply cut short'));
    });
    const timer = setTimeout(() => {
      settle(false, `no reply within ${timeoutMs} ms`);
      req.destroy();
    }, timeoutMs);
    req.on('error', (err) => settle(false, (err as NodeJS.ErrnoException).code ?? err.message));
    req.end();
  });
}

export interface RegistrarSettings {
  client: V2Client;
  prefix: string;
  targets: Target[];
  ttlSeconds: number;
  intervalMs: number;
  unhealthyAfter: number;
  healthTimeoutMs: number;
  log: Logger;
}

/** Health-checks and (de)registers every target each interval until `signal` aborts. */
export async function runRegistrar(settings: RegistrarSettings, signal: AbortSignal): Promise<void> {
  const states = settings.targets.map((target) => ({
    target,
    failures: 0,
    registered: false,
    registration: new Registration({
      client: settings.client,
      key: instanceKey(settings.prefix, target.service, target.instance),
      value: encodeAddress(target),
      ttlSeconds: settings.ttlSeconds,
      log: settings.log,
    }),
  }));
  await every(settings.intervalMs, signal, async () => {
    await Promise.all(
      states.map(async (state) => {
        const health = await checkHealth(state.target.url, settings.healthTimeoutMs);
        if (health.healthy) {
          state.failures = 0;
          const outcome = await state.registration.tick();
          if (outcome !== 'unavailable') state.registered = true;
          return;
        }
        state.failures++;
        settings.log('unhealthy', { key: state.registration.key, detail: health.detail, failures: state.failures });
        if (state.failures >= settings.unhealthyAfter && state.registered) {
          await state.registration.deregister();
          state.registered = false;
        }
      }),
    );
  });
}

async function main(): Promise<number> {
  const { values, positionals } = parseFlags(process.argv.slice(2), {
    target: { type: 'string', multiple: true },
    endpoints: { type: 'string' },
    prefix: { type: 'string' },
    ttl: { type: 'string' },
    'interval-ms': { type: 'string' },
    'unhealthy-after': { type: 'string' },
    'health-timeout-ms': { type: 'string' },
    log: { type: 'string' },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'; usage: ${REGISTRAR_USAGE}`);
  const targets = (values.target ?? []).map(parseTarget);
  if (targets.length === 0) throw new UsageError(`at least one --target is required; usage: ${REGISTRAR_USAGE}`);
  const prefix = parsePrefix(values.prefix ?? DEFAULT_PREFIX);
  const keys = targets.map((t) => instanceKey(prefix, t.service, t.instance));
  const duplicate = keys.find((k, i) => keys.indexOf(k) !== i);
  if (duplicate !== undefined) throw new UsageError(`--target names ${duplicate} twice`);
  const ttlSeconds = parseInteger('--ttl', values.ttl, DEFAULT_TTL_SECONDS, 1);
  const intervalMs = parseInteger('--interval-ms', values['interval-ms'], DEFAULT_REFRESH_MS, 1);
  if (intervalMs >= ttlSeconds * 1000) throw new UsageError(`--interval-ms (${intervalMs}) must be shorter than --ttl (${ttlSeconds} s)`);
  const settings: RegistrarSettings = {
    client: new V2Client({ endpoints: resolveEndpoints(values.endpoints, process.env) }),
    prefix,
    targets,
    ttlSeconds,
    intervalMs,
    unhealthyAfter: parseInteger('--unhealthy-after', values['unhealthy-after'], 1, 1),
    healthTimeoutMs: parseInteger('--health-timeout-ms', values['health-timeout-ms'], 500, 1),
    log: makeLogger('registrar', parseLogFormat(values.log)),
  };
  const { stopped, controller } = untilStopSignal();
  const running = runRegistrar(settings, controller.signal);
  const signal = await Promise.race([stopped, running.then(() => stopped)]);
  await running;
  // Registrations are left to expire: a registrar restart then costs nothing if it is back within the TTL.
  settings.log('stopped', { signal });
  return 0;
}

if (isMain(import.meta.url)) runMain('registrar', main);
