import type { MetadataStorage } from 'class-transformer/types/MetadataStorage';
import type { RouteInfo } from '../core/application';
import type { Constructor } from '../core/container';
import type { MatchedRoute } from '../core/request';
import type { Route } from '../core/router';
import { DOC, type DocOptions, type SecurityRequirements } from '../decorators/doc';
import { SCHEMA, type SchemaOptions } from '../decorators/schema';
import { isUserClass, type RouteParam } from '../core/params';

declare module '../core/middleware' {
  interface Middleware {
    /**
     * What it adds to the OpenAPI operation of each route it wraps: the statuses it answers
     * (a login check's 401), the security it requires and the schemes it defines.
     */
    openapi?: OperationDocSource;
  }
}

/**
 * What a middleware adds to the OpenAPI operations of the routes it wraps: the answers it
 * gives (a login check's 401), the security it requires and the schemes it defines. Given
 * as an object, or a function of the operation (CSRF answers 403 to unsafe methods only).
 *
 * @example
 * const loginRequired: Middleware = Object.assign(async (req, next) => { ...; return next(); }, {
 *   openapi: { responses: { 401: 'Log in first' }, security: [{ session: [] }] },
 * });
 */
export interface OperationDoc {
  /** Statuses it may answer with, and why; their bodies are problem+json. */
  responses?: Readonly<Record<number, string>>;
  /** Security requirements of the operation (ANDed with the others'). */
  security?: SecurityRequirements;
  /** Security schemes it defines for `components.securitySchemes`, by name. */
  securitySchemes?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

/** A middleware's {@link OperationDoc}, or a function that gives it for one operation. */
export type OperationDocSource =
  OperationDoc | ((operation: { method: string; route: MatchedRoute }) => OperationDoc | undefined);

/** Options of the {@link openapi} plugin. */
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

type JsonSchema = Record<string, unknown>;

// Loaded by the first document built: apps without OpenAPI never load them.
let libs:
  | {
      storage: MetadataStorage;
      rules: ReturnType<typeof import('class-validator').getMetadataStorage>;
      toSchema: typeof import('class-validator-jsonschema').targetConstructorToSchema;
      propertySchema: (target: object, key: string) => unknown;
    }
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
            properties: {
              path: { type: 'string' },
              messages: { type: 'array', items: { type: 'string' } },
            },
            required: ['path', 'messages'],
          },
        },
      },
      required: ['errors'],
    },
  ],
};

/** Why the framework answers these statuses, where it knows it does. */
const KNOWN: Record<number, string> = {
  400: 'The body is malformed (JSON that does not parse)',
  404: 'Nothing here: no such resource, or a path parameter out of its range',
  413: 'The body is larger than MAX_BODY_SIZE',
  415: 'The body is not JSON, urlencoded or multipart',
};
const PARAMETER_400 = 'A query parameter or header is missing, or not of its type';
const UNTYPED_JSON: JsonSchema = { description: 'Any JSON: the route declares no response class' };

/** The document and the operations whose JSON answer has no class (a startup warning in DEBUG). */
export interface BuiltDocument {
  document: JsonSchema;
  untyped: string[];
}

/**
 * Builds the OpenAPI 3.1 document of an app's routes: paths with `{name}` parameters typed by
 * their converter, regex or `@Schema` params class, operations named after the routes, bodies
 * and responses from the `@Schema` classes, every status the framework, the plugins that wrap
 * the route (`RouteBuild.answers`), its middlewares (`openapi`) and `@Doc({ responses })` say
 * it can answer, security schemes and requirements, tags from controller names, summaries from
 * `@Doc`.
 */
export function buildOpenAPI(
  routes: readonly Route<RouteInfo>[],
  options: OpenAPIOptions,
): BuiltDocument {
  libs ??= {
    // class-transformer keeps its metadata here and exports no typed path to it (its docs and
    // class-validator-jsonschema's use this one).
    storage: (
      require('class-transformer/cjs/storage') as { defaultMetadataStorage: MetadataStorage }
    ).defaultMetadataStorage,
    rules: (require('class-validator') as typeof import('class-validator')).getMetadataStorage(),
    toSchema: (require('class-validator-jsonschema') as typeof import('class-validator-jsonschema'))
      .targetConstructorToSchema,
    propertySchema: (
      require('class-validator-jsonschema/build/decorators') as {
        getMetadataSchema: (target: object, key: string) => unknown;
      }
    ).getMetadataSchema,
  };
  const schemas: Record<string, JsonSchema> = {
    Problem: PROBLEM,
    ValidationProblem: VALIDATION_PROBLEM,
  };
  const securitySchemes: Record<string, JsonSchema> = {};
  const tags = new Set<string>();
  const untyped: string[] = [];
  const ref = (cls: Constructor): JsonSchema => {
    if (!(cls.name in schemas)) {
      schemas[cls.name] = {}; // reserve first: a class may refer to itself
      schemas[cls.name] = classSchema(cls, ref);
    }
    return { $ref: `#/components/schemas/${cls.name}` };
  };
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const { meta, controllerName: tag, handlerName } = route.handler;
    if (meta === null) continue;
    const doc = (meta.extras.get(DOC) as DocOptions | undefined) ?? {};
    if (
      doc.hidden ||
      (options.prefix !== undefined && !route.pattern.source.startsWith(options.prefix))
    )
      continue;
    const schema = meta.extras.get(SCHEMA) as SchemaOptions | undefined;
    const { path, parameters } = pathOf(route, schema?.params && classSchema(schema.params, ref));
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
      const declared = declaredInputs(route.handler.params ?? [], ref);
      params.push(...declared.parameters);
      if (schema?.query) params.push(...queryParameters(schema.query, ref));
      if (schema?.request && !BODY_METHODS.has(method))
        params.push(...queryParameters(schema.request, ref));
      if (params.length) op.parameters = params;
      const readsBody =
        (schema?.request !== undefined || declared.body !== undefined) && BODY_METHODS.has(method);
      if (declared.body !== undefined && BODY_METHODS.has(method)) {
        op.requestBody = declared.body;
      } else if (readsBody) {
        const s = ref(schema?.request as Constructor);
        op.requestBody = {
          required: true,
          content: {
            'application/json': { schema: s },
            'application/x-www-form-urlencoded': { schema: s },
            'multipart/form-data': { schema: s },
          },
        };
      }
      const { success, typed } = successResponse(schema, ref);
      if (!typed) untyped.push(`${method} ${path}`);
      const answers: Record<number, string> = {};
      if (readsBody) for (const status of [400, 413, 415]) answers[status] = KNOWN[status];
      if (parameters.length > 0) answers[404] = KNOWN[404];
      if (declared.checked)
        answers[400] =
          answers[400] === undefined ? PARAMETER_400 : `${answers[400]}; or: ${PARAMETER_400}`;
      let security: SecurityRequirements | undefined;
      const docs = [...middlewareDocs(route, method), doc];
      for (const d of docs) {
        for (const [status, why] of Object.entries(d.responses ?? {}))
          answers[Number(status)] =
            answers[Number(status)] === undefined ? why : `${answers[Number(status)]}; or: ${why}`;
        if (d.security !== undefined)
          security = security === undefined ? d.security : both(security, d.security);
        for (const [name, scheme] of Object.entries(
          ('securitySchemes' in d && d.securitySchemes) || {},
        ))
          securitySchemes[name] = { ...scheme };
      }
      if (security !== undefined) op.security = security;
      op.responses = responses(
        success,
        answers,
        declared.validates ||
          (schema !== undefined &&
            (schema.request !== undefined ||
              schema.query !== undefined ||
              schema.params !== undefined)),
      );
      item[method.toLowerCase()] = op;
    });
  }
  const components: Record<string, unknown> = { schemas };
  if (Object.keys(securitySchemes).length > 0) components.securitySchemes = securitySchemes;
  return {
    document: {
      openapi: '3.1.0',
      info: {
        title: options.title,
        version: options.version,
        ...(options.description ? { description: options.description } : {}),
      },
      tags: [...tags].map((name) => ({ name })),
      paths,
      components,
    },
    untyped,
  };
}

/**
 * What the route says of this operation: its plugins' answers, then its middlewares' (outermost
 * first).
 */
function middlewareDocs(route: Route<RouteInfo>, method: string): OperationDoc[] {
  // What the plugins' wrappers answer (a rate limit's 429), as a middleware's would be.
  const answers = route.handler.answers;
  const out: OperationDoc[] = answers === undefined ? [] : [{ responses: answers }];
  for (const mw of route.handler.middlewares ?? []) {
    const source = mw.openapi;
    const d =
      typeof source === 'function'
        ? source({ method, route: route as unknown as MatchedRoute })
        : source;
    if (d !== undefined) out.push(d);
  }
  return out;
}

/** Two sets of alternatives that must both hold: every pair of them, merged. */
function both(a: SecurityRequirements, b: SecurityRequirements): SecurityRequirements {
  return a.flatMap((x) => b.map((y) => ({ ...x, ...y })));
}

function successResponse(
  schema: SchemaOptions | undefined,
  ref: (cls: Constructor) => JsonSchema,
): { success: [string, JsonSchema]; typed: boolean } {
  const status = String(schema?.status ?? 200);
  const response = schema?.response;
  if (status === '204')
    return { success: [status, { description: 'Done; no content' }], typed: true };
  if (response === undefined) {
    return {
      success: [
        status,
        { description: 'Success', content: { 'application/json': { schema: UNTYPED_JSON } } },
      ],
      typed: false,
    };
  }
  const body = Array.isArray(response) ? { type: 'array', items: ref(response[0]) } : ref(response);
  return {
    success: [
      status,
      { description: 'Success', content: { 'application/json': { schema: body } } },
    ],
    typed: true,
  };
}

function responses(
  success: [string, JsonSchema],
  answers: Record<number, string>,
  validates: boolean,
): Record<string, unknown> {
  const out: Record<string, unknown> = { [success[0]]: success[1] };
  const problem = (description: string, schema = 'Problem') => ({
    description,
    content: { 'application/problem+json': { schema: { $ref: `#/components/schemas/${schema}` } } },
  });
  for (const status of Object.keys(answers)
    .map(Number)
    .sort((a, b) => a - b)) {
    if (status !== 422) out[status] = problem(answers[status]);
  }
  if (validates)
    out['422'] = problem(
      'The input did not validate; every failing field is listed',
      'ValidationProblem',
    );
  else if (answers[422] !== undefined) out['422'] = problem(answers[422]);
  out.default = problem(
    'A server error: 500, or 503 while a service it needs (the database, the session store) is unavailable',
  );
  return out;
}

/**
 * `/projects/<id:int>` as `/projects/{id}`, with a path parameter per route parameter: typed
 * by the `@Schema` params class where it has the property, else by the converter, else a
 * string with the regex as its pattern.
 */
function pathOf(
  route: Route<unknown>,
  paramsClass: JsonSchema | undefined,
): { path: string; parameters: JsonSchema[] } {
  let path = '';
  const parameters: JsonSchema[] = [];
  const declared = (paramsClass?.properties as Record<string, JsonSchema> | undefined) ?? {};
  for (const part of route.pattern.parts) {
    if (part.kind === 'static') {
      path += part.text;
      continue;
    }
    path += `{${part.name}}`;
    let schema: JsonSchema = { type: 'string' };
    if (part.converter?.schema !== undefined) schema = { ...part.converter.schema };
    else if (part.regex !== null) schema.pattern = `^(?:${part.regex})$`;
    const own = declared[part.name];
    // The class's type wins; what the route knows stays when it speaks of the same type (an
    // id converter's bounds), not when it would contradict it (a regex pattern on an integer).
    if (own !== undefined)
      schema =
        own.type === undefined || own.type === schema.type ? { ...schema, ...own } : { ...own };
    parameters.push({ name: part.name, in: 'path', required: true, schema });
  }
  return { path, parameters };
}
/**
 * What a handler's parameter decorators read: `@Query('x')` and `@Header('x')` as parameters
 * typed by their declared types, `@Query()` of a class as its properties, `@Body()` as the
 * request body (a class's schema, text, bytes or any JSON).
 */
function declaredInputs(
  params: readonly RouteParam[],
  ref: (cls: Constructor) => JsonSchema,
): { parameters: JsonSchema[]; body?: JsonSchema; checked: boolean; validates: boolean } {
  const parameters: JsonSchema[] = [];
  let body: JsonSchema | undefined;
  let checked = false;
  let validates = false;
  for (const p of params) {
    if ((p.source === 'query' || p.source === 'header') && p.name !== undefined) {
      checked = true;
      parameters.push({
        name: p.name,
        in: p.source,
        required: !p.optional,
        schema: scalarSchema(p.type, p.default),
      });
    } else if (p.source === 'query' && isUserClass(p.type)) {
      validates = true;
      parameters.push(...queryParameters(p.type as Constructor, ref));
    } else if (p.source === 'body') {
      if (isUserClass(p.type)) {
        validates = true;
        const s = ref(p.type as Constructor);
        body = {
          required: true,
          content: {
            'application/json': { schema: s },
            'application/x-www-form-urlencoded': { schema: s },
            'multipart/form-data': { schema: s },
          },
        };
      } else {
        const type =
          p.type === String
            ? 'text/plain'
            : p.type === Buffer
              ? 'application/octet-stream'
              : 'application/json';
        body = {
          required: true,
          content: {
            [type]: { schema: type === 'application/json' ? {} : { type: 'string' } },
          },
        };
      }
    }
  }
  return { parameters, body, checked, validates };
}

function scalarSchema(type: unknown, fallback: unknown): JsonSchema {
  const schema: JsonSchema =
    type === Number
      ? { type: 'number' }
      : type === Boolean
        ? { type: 'boolean' }
        : type === Date
          ? { type: 'string', format: 'date-time' }
          : type === Array
            ? { type: 'array', items: { type: 'string' } }
            : { type: 'string' };
  if (fallback !== undefined) schema.default = fallback;
  return schema;
}

function queryParameters(cls: Constructor, ref: (cls: Constructor) => JsonSchema): JsonSchema[] {
  const schema = classSchema(cls, ref);
  const required = new Set((schema.required as string[] | undefined) ?? []);
  return Object.entries((schema.properties as Record<string, JsonSchema> | undefined) ?? {}).map(
    ([name, s]) => ({
      name,
      in: 'query',
      required: required.has(name),
      schema: s,
    }),
  );
}

/**
 * The JSON Schema of a class: from its class-validator rules, then its `@Expose` properties
 * by their declared types (nested classes as references), each refined by `@JSONSchema`. An
 * exposed property is required (serialization writes it) unless `@IsOptional()` says not.
 */
function classSchema(cls: Constructor, ref: (cls: Constructor) => JsonSchema): JsonSchema {
  const { storage: defaultMetadataStorage, rules, toSchema, propertySchema } = libs!;
  const fromRules = toSchema(cls, {
    classTransformerMetadataStorage: defaultMetadataStorage,
    refPointerPrefix: '#/components/schemas/',
  }) as JsonSchema;
  const properties: Record<string, JsonSchema> = {
    ...((fromRules.properties as Record<string, JsonSchema>) ?? {}),
  };
  const required = new Set((fromRules.required as string[] | undefined) ?? []);
  const validations = rules.getTargetValidationMetadatas(cls, '', true, false);
  const optional = new Set(
    validations.filter((m) => m.type === 'conditionalValidation').map((m) => m.propertyName),
  );
  for (const m of defaultMetadataStorage.getExposedMetadatas(cls)) {
    const name = m.propertyName;
    if (name === undefined) continue;
    if (!optional.has(name)) required.add(name);
    if (name in properties) continue;
    const nested = defaultMetadataStorage.findTypeMetadata(cls, name)?.typeFunction() as
      Constructor | undefined;
    const type = Reflect.getMetadata('design:type', cls.prototype, name);
    const schema =
      nested !== undefined &&
      typeof nested === 'function' &&
      ![String, Number, Boolean, Date].includes(nested as never)
        ? type === Array
          ? { type: 'array', items: ref(nested) }
          : ref(nested)
        : typeSchema(type);
    properties[name] = { ...schema, ...(propertySchema(cls.prototype, name) as JsonSchema) };
  }
  // Nested classes (`@Type(() => Item)`) are referenced: put them in the document too.
  const names = new Set([...Object.keys(properties), ...validations.map((m) => m.propertyName)]);
  for (const name of names) {
    const nested = defaultMetadataStorage.findTypeMetadata(cls, name)?.typeFunction();
    if (
      typeof nested === 'function' &&
      ![String, Number, Boolean, Date, Object, Array].includes(nested as never)
    )
      ref(nested as Constructor);
  }
  const out: JsonSchema = { ...fromRules, type: 'object', properties };
  if (required.size > 0) out.required = [...required];
  return out;
}

function typeSchema(type: unknown): JsonSchema {
  if (type === Number) return { type: 'number' };
  if (type === String) return { type: 'string' };
  if (type === Boolean) return { type: 'boolean' };
  if (type === Date) return { type: 'string', format: 'date-time' };
  if (type === Array) return { type: 'array', items: {} };
  return {};
}
