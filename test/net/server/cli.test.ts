// `raftsim serve` and `raftsim cluster` at the command line: etcd's flags and ETCD_* variables, one-line errors
// with exit code 2 for bad input, and a cluster that stops its children on SIGINT.
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, clusterIdOf, memberIdOf, parseServeConfig } from '../../../net/server/index.ts';
import { freeLoopbackPort } from '../../support/etcd.ts';
import { http, sleep } from './helpers.ts';

const BIN = fileURLToPath(new URL('../../../bin/raftsim', import.meta.url));
const cleanEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCD_')));

function raftsim(args: string[], env: Record<string, string | undefined> = cleanEnv()): { status: number | null; stderr: string; stdout: string } {
  const run = spawnSync(BIN, args, { encoding: 'utf8', timeout: 30_000, env });
  return { status: run.status, stderr: run.stderr, stdout: run.stdout };
}

describe('serve configuration', () => {
  it('reads etcd’s flags in all three spellings', () => {
    const c = parseServeConfig(['--name', 'a', '-data-dir=/tmp/x', '--initial-cluster=a=http://127.0.0.1:7001,b=http://127.0.0.1:7002', '--initial-advertise-peer-urls=http://127.0.0.1:7001', '--listen-peer-urls', 'http://127.0.0.1:7001'], {});
    expect(c).toMatchObject({ name: 'a', dataDir: '/tmp/x', initialClusterState: 'new', initialClusterToken: 'etcd-cluster' });
    expect(c.initialCluster.map((p) => p.name)).toEqual(['a', 'b']);
  });

  it('takes ETCD_* variables, and refuses a variable and a flag for the same setting, as etcd does', () => {
    const warnings: string[] = [];
    const env = { ETCD_NAME: 'envname', ETCD_DATA_DIR: '/tmp/envdir', ETCD_INITIAL_CLUSTER_STATE: 'existing', ETCD_BOGUS: '1', ETCD_INITIAL_CLUSTER: 'flagname=http://localhost:2380,envname=http://localhost:2380' };
    const fromEnv = parseServeConfig([], { ...env, ETCD_INITIAL_CLUSTER: 'envname=http://localhost:2380' }, (l) => warnings.push(l));
    expect(fromEnv).toMatchObject({ name: 'envname', dataDir: '/tmp/envdir', initialClusterState: 'existing' });
    expect(warnings.some((w) => w.includes('ETCD_BOGUS'))).toBe(true);
    const { ETCD_NAME: _n, ...rest } = env;
    const flagAndOthers = parseServeConfig(['--name=flagname', '--initial-cluster=flagname=http://localhost:2380'], { ...rest, ETCD_INITIAL_CLUSTER: undefined }, (l) => warnings.push(l));
    expect(flagAndOthers).toMatchObject({ name: 'flagname', dataDir: '/tmp/envdir', initialClusterState: 'existing' });
    expect(() => parseServeConfig(['--name=flagname'], env)).toThrow('conflicting environment variable ETCD_NAME is shadowed by --name (unset the variable or drop the flag)');
  });

  it('defaults to etcd’s single member on localhost, bound to loopback', () => {
    const c = parseServeConfig([], {});
    expect(c).toMatchObject({ name: 'default', dataDir: 'default.etcd', listenClientUrls: ['http://localhost:2379'], listenPeerUrls: ['http://localhost:2380'] });
    expect(c.initialCluster).toEqual([{ name: 'default', peerUrls: ['http://localhost:2380'] }]);
  });

  const refusals: Array<[string[], Record<string, string>, RegExp]> = [
    [['--bogus'], {}, /Unknown option '--bogus'/],
    [['--data-dir=/tmp/a'], { ETCD_DATA_DIR: '/tmp/b' }, /conflicting environment variable ETCD_DATA_DIR is shadowed by --data-dir/],
    [['--initial-cluster-state=maybe'], {}, /must be new or existing/],
    [['--listen-client-urls=ftp://127.0.0.1:1'], {}, /only http is supported/],
    [['--listen-client-urls=http://127.0.0.1'], {}, /has no port/],
    [['--listen-client-urls=not a url'], {}, /is not a URL/],
    [['--initial-cluster=a'], {}, /is not name=url/],
    [['--name=x', '--initial-cluster=y=http://localhost:2380'], {}, /no member named 'x'/],
    [['--initial-cluster=default=http://localhost:9999'], {}, /--initial-advertise-peer-urls/],
    [['--heartbeat-interval=abc'], {}, /whole number/],
    [['--election-timeout=100', '--heartbeat-interval=100'], {}, /at least 5 times/],
    [['--discovery=https://discovery.etcd.io/x'], {}, /--discovery: .* uses https, only http is supported/],
    [['--discovery=not a url'], {}, /--discovery: 'not a url' is not a URL/],
    [['--discovery=http://127.0.0.1:2379'], {}, /--discovery: .* has no path/],
    [['--discovery=http://127.0.0.1:2379/v2/keys/t?x=1'], {}, /must not have a query/],
    [['--discovery=http://127.0.0.1:2379/registry/t'], {}, /path starts with \/v2\/keys\//],
    [['--discovery=http://127.0.0.1:2379/v2/keys/t', '--initial-cluster=default=http://localhost:2380'], {}, /multiple discovery or bootstrap flags/],
    [[], { ETCD_INITIAL_CLUSTER_STATE: 'sideways' }, /must be new or existing/],
    [['--enable-v2=false'], {}, /only serves the v2 API/],
  ];
  for (const [argv, env, message] of refusals) {
    it(`refuses ${[...argv, ...Object.entries(env).map(([k, v]) => `${k}=${v}`)].join(' ')} in one line`, () => {
      let error: unknown;
      try {
        parseServeConfig(argv, env);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toContain('\n');
    });
  }

  it('derives member ids from peer URLs and the token, the same on every member', () => {
    expect(memberIdOf(['http://127.0.0.1:2380'], 't')).toBe(memberIdOf(['http://127.0.0.1:2380'], 't'));
    expect(memberIdOf(['http://127.0.0.1:2380'], 't')).not.toBe(memberIdOf(['http://127.0.0.1:2380'], 'u'));
    expect(memberIdOf(['http://b:1', 'http://a:1'], 't')).toBe(memberIdOf(['http://a:1', 'http://b:1'], 't'));
    expect(clusterIdOf('t')).toMatch(/^[0-9a-f]{1,16}$/);
  });
});

describe('the command line', () => {
  it('serve: a bad flag is one line on stderr and exit 2', () => {
    const run = raftsim(['serve', '--no-such-flag']);
    expect(run.status).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/^raftsim serve: Unknown option '--no-such-flag'/);
  });

  it('serve: a bad ETCD_* variable is one line and exit 2', () => {
    const run = raftsim(['serve'], { ...cleanEnv(), ETCD_HEARTBEAT_INTERVAL: 'often' });
    expect(run.status).toBe(2);
    expect(run.stderr.trim()).toBe("raftsim serve: --heartbeat-interval takes a whole number, got 'often'");
  });

  it('serve: a client port already in use is one line and exit 2', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    const peer = await freeLoopbackPort();
    try {
      const dir = `/tmp/raftsim-cli-inuse-${process.pid}`;
      const run = raftsim(['serve', `--data-dir=${dir}`, `--listen-client-urls=http://127.0.0.1:${port}`, `--listen-peer-urls=http://127.0.0.1:${peer}`, `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`, `--initial-cluster=default=http://127.0.0.1:${peer}`]);
      spawnSync('rm', ['-rf', dir]);
      expect(run.status).toBe(2);
      expect(run.stderr.trim().split('\n').at(-1)).toMatch(/^raftsim serve: cannot listen: address .* is already in use/);
    } finally {
      blocker.close();
    }
  });

  it('cluster: bad flags are one line and exit 2', () => {
    for (const args of [['--size', '0'], ['--base-port', 'x'], ['--size', '2', 'extra'], ['--base-port', '65534']]) {
      const run = raftsim(['cluster', ...args]);
      expect(run.status, args.join(' ')).toBe(2);
      expect(run.stderr.trim().split('\n'), args.join(' ')).toHaveLength(1);
    }
  });

  it('cluster: prints its endpoints, serves, and stops every child on SIGINT', async () => {
    // The port after a free one is almost always free too (the kernel hands ephemeral ports out spread apart).
    let base = await freeLoopbackPort();
    if (base >= 65535) base = await freeLoopbackPort();
    const child = spawn(BIN, ['cluster', '--size', '1', '--base-port', String(base), '--heartbeat-interval', '20', '--election-timeout', '200'], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      // Up to 60 s: the cluster starts its members as child processes, each compiling the tree through tsx,
      // which took over 15 s on a 2-core machine busy with another test run.
      for (let i = 0; i < 1200 && !stdout.includes('endpoints:') && child.exitCode === null; i++) await sleep(50);
      expect(stdout, stderr).toContain(`endpoints: http://127.0.0.1:${base}`);
      expect((await http(`http://127.0.0.1:${base}/v2/keys/x`, { method: 'PUT', body: 'value=1' })).status).toBe(201);
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      await expect(http(`http://127.0.0.1:${base}/health`, { timeoutMs: 1000 })).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
