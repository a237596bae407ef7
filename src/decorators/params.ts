import { handlerMeta, type ParamMeta } from '../core/metadata';
import type { Request } from '../core/request';
import { checkOptions } from './options';

/** Options of `@Query` and `@Header`. */
export interface ParamOptions {
  /** A request without it gets `undefined` (or `default`) instead of a 400. */
  optional?: boolean;
  /** The value for a request without it (implies `optional`). */
  default?: unknown;
}

function record(meta: ParamMeta): ParameterDecorator {
  return (target, key, index) => {
    if (key === undefined)
      throw new TypeError(`${meta.label} decorates a handler's parameter, not a constructor's`);
    handlerMeta((target as object).constructor, String(key)).params[index] = meta;
  };
}

function named(
  source: 'query' | 'header',
  decorator: string,
  name: string | undefined,
  options: ParamOptions | undefined,
): ParameterDecorator {
  const label = name === undefined ? `${decorator}()` : `${decorator}('${name}')`;
  checkOptions(label, options, ['optional', 'default']);
  if (name !== undefined && (typeof name !== 'string' || name === ''))
    throw new TypeError(`${decorator}: the name must be a non-empty string`);
  return record({
    source,
    name,
    optional: options?.optional === true || options?.default !== undefined,
    default: options?.default,
    label,
  });
}

/**
 * The route parameter `name`, converted to the parameter's type: by the route's converter
 * (`<id:int>` gives a number), else by the declared type (`number`, `boolean`, `Date`); a value
 * that does not convert is a 404, as a path that does not exist.
 *
 * @example
 * @Get('/<id:int>') show(@Param('id') id: number) { return this.projects.get(id); }
 */
export function Param(name: string): ParameterDecorator {
  if (typeof name !== 'string' || name === '')
    throw new TypeError('@Param: the name must be a non-empty string');
  return record({ source: 'param', name, optional: false, label: `@Param('${name}')` });
}

/**
 * The query string's `name`, converted to the parameter's type (`number`, `boolean`, `Date`,
 * `string[]` for every value of a repeated key); missing or unconvertible is a 400 naming it,
 * unless `optional` or `default`. Without a name: the whole query, validated through the
 * parameter's `@Schema` class by the `schemas` plugin (or the `URLSearchParams` for an untyped one).
 *
 * @example
 * @Get('/search') search(@Query('q') q: string, @Query('page', { default: 1 }) page: number) {}
 */
export function Query(name?: string, options?: ParamOptions): ParameterDecorator {
  return named('query', '@Query', name, options);
}

/**
 * The request header `name` (case-insensitive; repeated ones joined by `, `), converted to the
 * parameter's type; missing is a 400 naming it, unless `optional` or `default`.
 *
 * @example
 * @Post('/hooks') hook(@Header('x-signature') signature: string) {}
 */
export function Header(name: string, options?: ParamOptions): ParameterDecorator {
  if (typeof name !== 'string' || name === '')
    throw new TypeError('@Header: the name must be a non-empty string');
  return named('header', '@Header', name.toLowerCase(), options);
}

/**
 * The request body: a class of the `schemas` plugin's (validated as `@Schema` validates, a 422
 * listing the failing fields), `string` (the text), `Buffer` (the bytes), or anything else
 * (the parsed JSON).
 *
 * @example
 * @Post('/projects') add(@Body() project: AddProject) { return this.projects.add(project); }
 */
export function Body(): ParameterDecorator {
  return record({ source: 'body', name: undefined, optional: false, label: '@Body()' });
}

/**
 * The request itself, for a handler that takes other parameters too.
 *
 * @example
 * @Get('/<id:int>') show(@Param('id') id: number, @Req() req: Request) {}
 */
export function Req(): ParameterDecorator {
  return record({ source: 'req', name: undefined, optional: false, label: '@Req()' });
}

/**
 * Makes a parameter decorator of your own from what it reads off the request (it may return a
 * promise; a thrown HTTP error is the response). `data` is what the decorator is given.
 *
 * @example
 * const CurrentUser = createParamDecorator((req) => req.state.user);
 * @Get('/me') me(@CurrentUser() user: User) { return user; }
 */
export function createParamDecorator<D = undefined>(
  resolve: (req: Request, data: D) => unknown,
  name = resolve.name || 'custom',
): (data?: D) => ParameterDecorator {
  if (typeof resolve !== 'function')
    throw new TypeError('createParamDecorator: give it a function of the request');
  return (data?: D) =>
    record({
      source: 'custom',
      name: undefined,
      optional: false,
      resolve: (req) => resolve(req, data as D),
      label: `@${name}()`,
    });
}
