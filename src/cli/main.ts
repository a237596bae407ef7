#!/usr/bin/env node
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { serve, type MasterOutput } from './master';
import { parseServeArgs, SERVE_USAGE, UserError } from './options';
import { newProject } from './new';
import { routes } from './routes';
import { runWorker, WORKER_ENV, type WorkerConfig } from './worker';

const USAGE = `Usage: rococo <command> [options]

Commands:
  serve <module>[:export]   serve an app with a master process and workers (rococo serve --help)
  routes <module>[:export]  print its route table; --types FILE types app.url() (rococo routes --help)
  new <dir>                 make a project: a page, a JSON API, a migration, a test (rococo new --help)

Options:
  -h, --help      this help
  -v, --version   rococo's version`;

/**
 * The `rococo` command with `argv` (without node and the script); resolves to its exit code.
 * A launcher can call it in-process (the sample's `npm start` does, after starting its
 * database): the calling process becomes the master.
 */
export async function runCli(
  argv: readonly string[],
  output: Partial<MasterOutput> = {},
): Promise<number> {
  const stdout = (text: string) => void process.stdout.write(text);
  const stderr = output.stderr ?? ((text: string) => void process.stderr.write(text));
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
        stderr(`${USAGE}\n`);
        return 2;
      case '-h':
      case '--help':
      case 'help':
        stdout(`${USAGE}\n`);
        return 0;
      case '-v':
      case '--version':
        stdout(`${version()}\n`);
        return 0;
      case 'serve': {
        const options = parseServeArgs(rest);
        if (options === 'help') {
          stdout(`${SERVE_USAGE}\n`);
          return 0;
        }
        return await serve(options, { ...output, stderr });
      }
      case 'routes':
        return await routes(rest, stdout);
      case 'new':
        return newProject(rest, stdout);
      default:
        throw new UserError(`unknown command '${command}'\n\n${USAGE}`, 2);
    }
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    stderr(
      `rococo${command === 'serve' || command === 'routes' || command === 'new' ? ` ${command}` : ''}: ${e.message}\n`,
    );
    return e.exitCode;
  }
}

function version(): string {
  for (const up of ['../..', '../../..']) {
    try {
      const pkg = JSON.parse(readFileSync(join(__dirname, up, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'rococo') return pkg.version ?? 'unknown';
    } catch {
      // not there
    }
  }
  return 'unknown';
}

if (require.main === module) {
  const config = cluster.isWorker ? process.env[WORKER_ENV] : undefined;
  if (config !== undefined) {
    delete process.env[WORKER_ENV];
    void runWorker(JSON.parse(config) as WorkerConfig);
  } else {
    runCli(process.argv.slice(2)).then(
      (code) => process.exit(code),
      (err) => {
        console.error(err);
        process.exit(1);
      },
    );
  }
}
