import type { MetadataStorage } from 'class-transformer/types/MetadataStorage';
import type { Constructor } from './container';
import type { HandlerMeta } from './metadata';
import type { Route } from './router';
import { SCHEMA, type SchemaOptions } from './schema';

/** The key of `@Doc` data in a handler's metadata. */
export const DOC = Symbol('rococo.doc');

/** What `@Doc` adds to a route's OpenAPI operation. */
export interface DocOptions {
  summary?: string;
  description?: string;
  /** Tags besides the controller's name. */
  tags?: string[];
  /** Marks the operation deprecated. */
  deprecated?: boolean;
  /** Leaves the route out of the document. */
  hidden?: boolean;
}

/** Options of `createApp({ openapi })`. */
export interface OpenAPIOptions {
  title: string;
  version: string;
  description?: string;
  /** Where the JSON document is served (`/openapi.json`). */
  path?: string;
  /** Where the interactive docs page is served (`/docs`), or false for none. */
  docs?: string | false;
  /** Only routes whose path starts with this (`/api`) are documented; all by default. */
  prefix?: string;
}

/** The keys {@link OpenAPIOptions} accepts. */
export const OPENAPI_OPTION_KEYS = ['title', 'version', 'description', 'path', 'docs', 'prefix'];

/** What a route tells the document: its handler metadata and its controller's tag. */
export interface DocumentedHandler {
  meta: HandlerMeta | null;
  tag: string | undefined;
  handlerName: string;
}

type JsonSchema = Record<string, unknown>;

// Loaded by the first document built: apps without OpenAPI never load them.
let libs:
  | { storage: MetadataStorage; rules: ReturnType<typeof import('class-validator').getMetadataStorage>; toSchema: typeof import('class-validator-jsonschema').targetConstructorToSchema }
  | undefined;

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);
const PROBLEM: JsonSchema = {
  type: 'object',
  description: 'RFC 9457 problem details',
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
  },
  required: ['type', 'title', 'status'],
};
const VALIDATION_PROBLEM: JsonSchema = {
  allOf: [
    { $ref: '#/components/schemas/Problem' },
    {
      type: 'object',
      properties: {
        errors: {
          type: 'array',
          items: {
            type: 'object',
            properties: { path: { type: 'string' }, messages: { type: 'array', items: { type: 'string' } } },
            required: ['path', 'messages'],
          },
        },
      },
      required: ['errors'],
    },
  ],
};

/**
 * Builds the OpenAPI 3.1 document of an app's routes: paths with `{name}` parameters and their
 * patterns, operations named after the routes, bodies and responses from the `@Schema`
 * classes, the 422 problem, tags from controller names, summaries from `@Doc`.
 */
export function buildOpenAPI(routes: readonly Route<DocumentedHandler>[], options: OpenAPIOptions): JsonSchema {
  libs ??= {
    // class-transformer keeps its metadata here and exports no typed path to it (its docs and
    // class-validator-jsonschema's use this one).
    storage: (require('class-transformer/cjs/storage') as { defaultMetadataStorage: MetadataStorage }).defaultMetadataStorage,
    rules: (require('class-validator') as typeof import('class-validator')).getMetadataStorage(),
    toSchema: (require('class-validator-jsonschema') as typeof import('class-validator-jsonschema')).targetConstructorToSchema,
  };
  const schemas: Record<string, JsonSchema> = { Problem: PROBLEM, ValidationProblem: VALIDATION_PROBLEM };
  const tags = new Set<string>();
  const ref = (cls: Constructor): JsonSchema => {
    if (!(cls.name in schemas)) {
      schemas[cls.name] = {}; // reserve first: a class may refer to itself
      schemas[cls.name] = classSchema(cls, ref);
    }
    return { $ref: `#/components/schemas/${cls.name}` };
  };
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const { meta, tag, handlerName } = route.handler;
    if (meta === null) continue;
    const doc = (meta.extras.get(DOC) as DocOptions | undefined) ?? {};
    if (doc.hidden || (options.prefix !== undefined && !route.pattern.source.startsWith(options.prefix))) continue;
    const { path, parameters } = pathOf(route);
    const schema = meta.extras.get(SCHEMA) as SchemaOptions | undefined;
    const item = (paths[path] ??= {});
    route.methods.forEach((method, i) => {
      const op: Record<string, unknown> = {};
      const baseId = route.name ?? `${tag ?? 'app'}.${handlerName}`;
      op.operationId = i === 0 ? baseId : `${baseId}.${method.toLowerCase()}`;
      const opTags = [...(tag ? [tag] : []), ...(doc.tags ?? [])];
      opTags.forEach((t) => tags.add(t));
      if (opTags.length) op.tags = opTags;
      if (doc.summary) op.summary = doc.summary;
      if (doc.description) op.description = doc.description;
      if (doc.deprecated) op.deprecated = true;
      const params = [...parameters];
      if (schema?.query) params.push(...queryParameters(schema.query, ref));
      if (schema?.request && !BODY_METHODS.has(method)) params.push(...queryParameters(schema.request, ref));
      if (params.length) op.parameters = params;
      if (schema?.request && BODY_METHODS.has(method)) {
        const s = ref(schema.request);
        op.requestBody = {
          required: true,
          content: { 'application/json': { schema: s }, 'application/x-www-form-urlencoded': { schema: s }, 'multipart/form-data': { schema: s } },
        };
      }
      op.responses = responses(schema, ref);
      item[method.toLowerCase()] = op;
    });
  }
  return {
    openapi: '3.1.0',
    info: { title: options.title, version: options.version, ...(options.description ? { description: options.description } : {}) },
    tags: [...tags].map((name) => ({ name })),
    paths,
    components: { schemas },
  };
}

function responses(schema: SchemaOptions | undefined, ref: (cls: Constructor) => JsonSchema): Record<string, unknown> {
  const status = String(schema?.status ?? 200);
  const out: Record<string, unknown> = {};
  const response = schema?.response;
  if (response === undefined) {
    out[status] = { description: 'Success' };
  } else {
    const body = Array.isArray(response) ? { type: 'array', items: ref(response[0]) } : ref(response);
    out[status] = { description: 'Success', content: { 'application/json': { schema: body } } };
  }
  if (schema?.request || schema?.query || schema?.params) {
    out['422'] = {
      description: 'The input did not validate; every failing field is listed',
      content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/ValidationProblem' } } },
    };
  }
  out.default = { description: 'An error', content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } };
  return out;
}

/** `/projects/<id:\d+>` as `/projects/{id}`, with a path parameter per route parameter. */
function pathOf(route: Route<unknown>): { path: string; parameters: JsonSchema[] } {
  let path = '';
  const parameters: JsonSchema[] = [];
  for (const part of route.pattern.parts) {
    if (part.kind === 'static') {
      path += part.text;
      continue;
    }
    path += `{${part.name}}`;
    const schema: JsonSchema = { type: 'string' };
    if (part.regex !== null) schema.pattern = `^(?:${part.regex})$`;
    parameters.push({ name: part.name, in: 'path', required: true, schema });
  }
  return { path, parameters };
}

function queryParameters(cls: Constructor, ref: (cls: Constructor) => JsonSchema): JsonSchema[] {
  const schema = classSchema(cls, ref);
  const required = new Set((schema.required as string[] | undefined) ?? []);
  return Object.entries((schema.properties as Record<string, JsonSchema> | undefined) ?? {}).map(([name, s]) => ({
    name,
    in: 'query',
    required: required.has(name),
    schema: s,
  }));
}

/**
 * The JSON Schema of a class: from its class-validator rules when it has some (nested classes
 * as references), else from its `@Expose` properties and their declared types.
 */
function classSchema(cls: Constructor, ref: (cls: Constructor) => JsonSchema): JsonSchema {
  const { storage: defaultMetadataStorage, rules, toSchema } = libs!;
  const fromRules = toSchema(cls, {
    classTransformerMetadataStorage: defaultMetadataStorage,
    refPointerPrefix: '#/components/schemas/',
  }) as JsonSchema;
  const properties: Record<string, JsonSchema> = { ...((fromRules.properties as Record<string, JsonSchema>) ?? {}) };
  for (const m of defaultMetadataStorage.getExposedMetadatas(cls)) {
    const name = m.propertyName;
    if (name === undefined || name in properties) continue;
    const nested = defaultMetadataStorage.findTypeMetadata(cls, name)?.typeFunction() as Constructor | undefined;
    const type = Reflect.getMetadata('design:type', cls.prototype, name);
    properties[name] = nested !== undefined && typeof nested === 'function' && ![String, Number, Boolean, Date].includes(nested as never)
      ? type === Array ? { type: 'array', items: ref(nested) } : ref(nested)
      : typeSchema(type);
  }
  // Nested classes (`@Type(() => Item)`) are referenced: put them in the document too.
  const names = new Set([...Object.keys(properties), ...rules.getTargetValidationMetadatas(cls, '', true, false).map((m) => m.propertyName)]);
  for (const name of names) {
    const nested = defaultMetadataStorage.findTypeMetadata(cls, name)?.typeFunction();
    if (typeof nested === 'function' && ![String, Number, Boolean, Date, Object, Array].includes(nested as never)) ref(nested as Constructor);
  }
  return { ...fromRules, type: 'object', properties };
}

function typeSchema(type: unknown): JsonSchema {
  if (type === Number) return { type: 'number' };
  if (type === String) return { type: 'string' };
  if (type === Boolean) return { type: 'boolean' };
  if (type === Date) return { type: 'string', format: 'date-time' };
  if (type === Array) return { type: 'array', items: {} };
  return {};
}
