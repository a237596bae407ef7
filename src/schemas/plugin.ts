import type { Plugin } from '../core/plugin';
import { SCHEMA, type SchemaOptions } from '../decorators/schema';
import type { Constructor } from '../core/container';
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
      for (const p of route.params)
        if (p.resolve === undefined && (p.source === 'body' || p.source === 'query'))
          p.resolve = schemaParam(p.type as Constructor, p.source, app.log);
      const options = route.meta.extras.get(SCHEMA) as SchemaOptions | undefined;
      if (options === undefined) return;
      route.claim(SCHEMA);
      route.handler = schemaWrapper(options, route.methods, route.origin, app)(route.handler);
    },
  };
}
