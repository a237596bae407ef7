import type { Plugin } from '../core/plugin';
import { SCHEMA, type SchemaOptions } from '../decorators/schema';
import type { Constructor } from '../core/container';
import { jsonWriter } from './json-writer';
import { schemaParam, schemaWrapper } from './schema';

declare module '../core/request' {
  interface Request<Data = unknown, Query = unknown, Params = unknown> {
    /** The validated body (or, for GET/DELETE, query) of a `@Schema({ request })` route. */
    data: Data;
    /** The validated query string of a `@Schema({ query })` route. */
    validQuery: Query;
    /** The validated route parameters of a `@Schema({ params })` route. */
    validParams: Params;
  }
}

/**
 * Validation and serialization for `@Schema` routes, with class-validator and
 * class-transformer classes (rororo's schemas, in decorator form): compiled at startup, the
 * input is read, converted and validated before the handler runs (a 422 listing every failing
 * field), and what it returns goes out through the response class.
 *
 * @example
 * createApp({ controllers, plugins: [schemas()] });
 */
export function schemas(): Plugin {
  return {
    name: 'schemas',
    route(route, app) {
      // The input classes: a handler that returns its input (req.data, its @Body()) has it
      // written by the compiled writer (json-writer.ts), not by JSON.stringify.
      const inputs: Constructor[] = [];
      for (const p of route.params)
        if (p.resolve === undefined && (p.source === 'body' || p.source === 'query')) {
          p.resolve = schemaParam(p.type as Constructor, p.source, app.log);
          inputs.push(p.type as Constructor);
        }
      const options = route.meta.extras.get(SCHEMA) as SchemaOptions | undefined;
      if (options !== undefined) {
        route.claim(SCHEMA);
        route.handler = schemaWrapper(options, route.methods, route.origin, app)(route.handler);
        // With a response class or another status, the wrapper's answer is a Response already.
        if (options.response === undefined && (options.status ?? 200) === 200)
          for (const cls of [options.request, options.query, options.params])
            if (typeof cls === 'function') inputs.push(cls);
      }
      const roots = [...new Set(inputs)].filter((cls) => cls !== Object);
      if (roots.length > 0 && route.serialize === undefined) route.serialize = jsonWriter(roots);
    },
  };
}
