import { writeFileSync } from 'node:fs';
import { routeTable } from '../core/debug';
import { loadApp, resolveModule, type ServableApp } from './load';
import { parseCommand, UserError } from './options';

export const ROUTES_USAGE = `Usage: rococo routes <module>[:export] [options]

Prints the route table of the Application that <module> exports (as rococo serve loads it):
method, pattern, name, handler, middlewares and the plugins that wrap each route.

Options:
  --types FILE      also write a declaration that types app.url() and req.app.url(): a route
                    name that does not exist, or a missing or mistyped parameter, is then a
                    compile error
  --module NAME     the module the declaration augments (default: rococo)
  -h, --help        this help`;

/** `rococo routes`: resolves to its exit code. */
export async function routes(
  args: readonly string[],
  stdout: (text: string) => void,
): Promise<number> {
  const parsed = parseCommand('routes', args, {
    types: { type: 'string' },
    module: { type: 'string' },
  });
  if (parsed.values.help) {
    stdout(`${ROUTES_USAGE}\n`);
    return 0;
  }
  if (parsed.positionals.length !== 1) throw new UserError(`give one module\n\n${ROUTES_USAGE}`, 2);
  const spec = parsed.positionals[0];
  const colon = spec.lastIndexOf(':');
  const [module, exportName] =
    colon > 1 ? [spec.slice(0, colon), spec.slice(colon + 1)] : [spec, undefined];
  const app = await loadApp(resolveModule(module), module, exportName);
  try {
    stdout(`${routeTable(app.router.routes)}\n`);
    if (parsed.values.types !== undefined)
      writeFileSync(parsed.values.types, routeTypes(app, parsed.values.module ?? 'rococo', spec));
  } finally {
    await app.close();
  }
  return 0;
}

/**
 * The declaration `--types` writes: `RouteParams` augmented with each named route and the
 * types of its parameters (a number for a converter whose values are numbers, a string for
 * the other converters, either for a plain or regex parameter, which `url()` formats).
 */
export function routeTypes(app: Pick<ServableApp, 'router'>, module: string, from: string): string {
  const lines = [
    `// Written by \`rococo routes ${from} --types\`: do not edit; run it again when routes change.`,
    'export {};',
    '',
    `declare module '${module}' {`,
    '  interface RouteParams {',
  ];
  const named = app.router.routes
    .filter((r) => r.name !== undefined)
    .sort((a, b) => (a.name as string).localeCompare(b.name as string));
  for (const route of named) {
    const params = route.pattern.parts.flatMap((p) =>
      p.kind === 'param' ? [`${JSON.stringify(p.name)}: ${typeOf(p.converter?.schema)}`] : [],
    );
    lines.push(
      `    ${JSON.stringify(route.name)}: ${params.length === 0 ? 'Record<string, never>' : `{ ${params.join('; ')} }`};`,
    );
  }
  lines.push('  }', '}', '');
  return lines.join('\n');
}

function typeOf(schema: Readonly<Record<string, unknown>> | undefined): string {
  if (schema === undefined) return 'string | number';
  return schema.type === 'integer' || schema.type === 'number' ? 'number' : 'string';
}
