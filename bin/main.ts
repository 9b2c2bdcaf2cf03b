import { commands } from './commands.ts';
import { HelpRequested } from './args.ts';
import { UsageError } from './usage.ts';

function help(): string {
  const width = Math.max(...commands.map((c) => c.usage.length), 10);
  const lines = commands.map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`);
  return [
    'raftsim: a deterministic Raft simulator and an etcd-v2-compatible server',
    '',
    'usage: raftsim <command> [options]',
    '',
    'commands:',
    ...(lines.length ? lines : ['  (none yet)']),
    '',
    'exit codes: 0 every check held, 1 a check failed, 2 bad usage or bad input',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === 'help' && rest.length > 0) return main([...rest.slice(0, 1), '--help']);
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(help() + '\n');
    return name === undefined ? 2 : 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`raftsim: unknown command '${name}' (see 'raftsim --help')\n`);
    return 2;
  }
  try {
    const mod = await command.load();
    return await mod.run(rest);
  } catch (err) {
    if (err instanceof HelpRequested) {
      const flags = err.flags.length > 0 ? ['', 'options:', ...err.flags.map((f) => `  ${f}`)] : [];
      process.stdout.write([`usage: raftsim ${command.usage}`, '', command.summary, ...flags, '', 'exit codes: 0 every check held, 1 a check failed, 2 bad usage or bad input'].join('\n') + '\n');
      return 0;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`raftsim ${name}: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`raftsim: internal error: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exitCode = 70;
  },
);
