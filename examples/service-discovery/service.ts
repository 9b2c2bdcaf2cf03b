// A stand-in service for the demo: an HTTP server answering GET /health and GET /, which registers itself
// (register.ts's selfRegister) once it is listening and deregisters on SIGTERM/SIGINT before closing.
//
//   SERVICE_NAME=web SERVICE_HOST=127.0.0.1 SERVICE_PORT=0 npx tsx examples/service-discovery/service.ts --endpoints URLS
//
// SERVICE_PORT=0 binds a free port and registers the port actually bound. With --no-register it only serves
// HTTP, for registrar.ts to health-check and register on its behalf.
import { createServer, type Server } from 'node:http';
import { isMain, runMain, untilStopSignal, UsageError } from './cli.ts';
import { defaultInstance, parseAgentFlags, readServiceEnv, selfRegister } from './register.ts';

/** Serves /health (200 "ok") and / (which instance answered); listens on `host:port` (0 = any free port). */
export function startHttp(host: string, port: number, instance: () => string): Promise<{ server: Server; port: number }> {
  return new Promise((resolveStart, reject) => {
    const server = createServer((req, res) => {
      if (req.method === 'GET' && req.url === '/health') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      } else if (req.method === 'GET' && req.url === '/') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end(`hello from ${instance()}\n`);
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      }
    });
    server.once('error', reject);
    server.listen(port, host, () => {
      const address = server.address();
      resolveStart({ server, port: typeof address === 'object' && address !== null ? address.port : port });
    });
  });
}

async function main(): Promise<number> {
  const identity = readServiceEnv(process.env, true);
  const argv = process.argv.slice(2);
  const register = !argv.includes('--no-register');
  const settings = parseAgentFlags('service', argv.filter((a) => a !== '--no-register'), process.env);
  let http;
  try {
    http = await startHttp(identity.host, identity.port, () => identity.instance);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new UsageError(`cannot listen on ${identity.host}:${identity.port}: ${code}`);
  }
  const bound = { ...identity, port: http.port, instance: identity.instance || defaultInstance(identity.host, http.port) };
  settings.log('listening', { service: bound.service, instance: bound.instance, address: `${bound.host}:${bound.port}`, pid: process.pid });
  const { stopped, controller } = untilStopSignal();
  const running = register ? selfRegister(bound, settings, controller.signal) : stopped.then(() => undefined);
  const signal = await Promise.race([stopped, running.then(() => stopped)]);
  await running;
  await new Promise<void>((r) => {
    http.server.close(() => r());
    http.server.closeAllConnections();
  });
  settings.log('stopped', { signal });
  return 0;
}

if (isMain(import.meta.url)) runMain('service', main);
