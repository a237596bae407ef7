import { tracingChannel } from 'node:diagnostics_channel';
import type { Environment, Template } from 'nunjucks';
import type { Application } from '../core/application';
import { HTTPError, RococoError } from '../core/errors';
import type { Request } from '../core/request';
import { html, Response } from '../core/response';
import type { ContextProcessor } from '../core/view-context';
import type { TemplateMeta } from '../decorators/template';
import { fastFrameClass, type NunjucksFrame } from './frame';

/** Options of {@link templates}. */
export interface TemplatesOptions {
  /** Folder(s) of the templates. */
  dir: string | readonly string[];
  /** Functions of the request merged into every context, in order. */
  contextProcessors?: readonly ContextProcessor[];
  /** More nunjucks filters. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- nunjucks filters take what the template passes
  filters?: Record<string, (...args: any[]) => unknown>;
  /** More globals, next to `url`, `request`, `settings` and what plugins add (`static`). */
  globals?: Record<string, unknown>;
}

/** What the `rococo:templates:render` channel publishes for a render. */
export interface RenderMessage {
  /** The template's name, as `@Template` or `render()` gave it. */
  readonly name: string;
  /** The engine that renders it: tells one app's templates from another's. */
  readonly engine: Templates;
  /** Set by the channel: the render's failure, when it failed. */
  error?: unknown;
}

/**
 * Every render, as a `diagnostics_channel` TracingChannel (start, end, error; renders are
 * synchronous): how tracing sees them without this engine knowing it. Without subscribers a
 * render pays one check.
 */
export const renderChannel = tracingChannel<unknown, RenderMessage>('rococo:templates:render');

/** The keys {@link TemplatesOptions} accepts. */
export const TEMPLATES_OPTION_KEYS = ['dir', 'contextProcessors', 'filters', 'globals'];

/**
 * The app's nunjucks environment (aiohttp_jinja2's role). Autoescaping is on. In DEBUG,
 * templates are read again on every render, so edits show at once; otherwise each is compiled
 * once and kept.
 */
export class Templates {
  readonly env: Environment;
  private processors: readonly ContextProcessor[];
  private readonly app: Application;
  private readonly Frame: new () => NunjucksFrame;

  /** @internal The templates plugin builds it. */
  constructor(app: Application, options: TemplatesOptions) {
    this.app = app;
    this.processors = [...(options.contextProcessors ?? [])];
    const dirs = typeof options.dir === 'string' ? [options.dir] : [...options.dir];
    const nunjucks = require('nunjucks') as typeof import('nunjucks'); // only apps with templates load it
    this.Frame = fastFrameClass(
      (nunjucks.runtime as unknown as { Frame: new () => NunjucksFrame }).Frame,
    );
    const loader = new nunjucks.FileSystemLoader(dirs, { noCache: app.debug });
    this.env = new nunjucks.Environment(loader, { autoescape: true });
    this.env.addGlobal(
      'url',
      (name: string, params?: Record<string, string | number>, query?: Record<string, string>) =>
        app.router.url(name, withoutKeywords(params), withoutKeywords(query)),
    );
    for (const [k, v] of Object.entries(options.globals ?? {})) this.env.addGlobal(k, v);
    for (const [k, f] of Object.entries(options.filters ?? {})) this.env.addFilter(k, f);
  }

  /**
   * Takes what plugins and middlewares put in every view (`app.view`): its globals, then its
   * context processors after those of the options. Called once the app is built.
   */
  adopt(view: Application['view']): void {
    for (const [k, v] of view.globals) this.env.addGlobal(k, v);
    this.processors = [...this.processors, ...view.processors];
  }

  /**
   * The compiled template, or a clear error naming `origin` when it is missing or does not
   * compile: startup calls it for every `@Template`.
   */
  load(name: string, origin: string): Template {
    try {
      return this.env.getTemplate(name, true);
    } catch (e) {
      const msg = (e as Error).message;
      const missing = /template not found/i.test(msg);
      throw new RococoError(
        'ROCOCO_TEMPLATE',
        `${origin}: ${missing ? `the template '${name}' does not exist` : `the template '${name}' does not compile: ${msg}`}`,
      );
    }
  }

  /**
   * Wraps a handler so that what it returns is rendered as the context of its template,
   * compiled now (a missing template stops startup). A `Response` or an HTTP error passes.
   */
  wrap(
    call: (req: Request) => unknown,
    meta: TemplateMeta,
    origin: string,
  ): (req: Request) => unknown {
    const compiled = this.load(meta.name, origin);
    const init = { status: meta.status };
    const finish = (req: Request, context: unknown): unknown => {
      if (context instanceof Response || context instanceof HTTPError) return context;
      const ctx = this.context(req, (context ?? {}) as object);
      // Synchronous unless a context processor is async: no promise, no microtask per page.
      if (ctx instanceof Promise)
        return ctx.then((c) => html(this.renderTemplate(meta.name, compiled, c), init));
      return html(this.renderTemplate(meta.name, compiled, ctx), init);
    };
    return (req) => {
      const context = call(req);
      return context instanceof Promise
        ? context.then((c) => finish(req, c))
        : finish(req, context);
    };
  }

  /**
   * Renders a template for a request: `request`, `settings`, then the context processors, then
   * `context`. `compiled` (from {@link load}) skips the lookup, except in DEBUG.
   */
  async renderString(
    req: Request,
    name: string,
    context: object = {},
    compiled?: Template,
  ): Promise<string> {
    return this.renderTemplate(name, compiled, await this.context(req, context));
  }

  /**
   * `template.render(context)`, with rococo's cheaper frame as the parent frame (see
   * template-frame.ts). Given a parent frame and a callback, nunjucks calls back before returning,
   * except for a template it compiles on the way (an include) that does not compile, or an async
   * filter: it then calls back later, from a timer, and the render is an error here.
   */
  private renderTemplate(name: string, compiled: Template | undefined, context: object): string {
    if (renderChannel.hasSubscribers)
      return renderChannel.traceSync(() => this.renderNow(name, compiled, context), {
        name,
        engine: this,
      });
    return this.renderNow(name, compiled, context);
  }

  private renderNow(name: string, compiled: Template | undefined, context: object): string {
    const template = this.template(name, compiled);
    let rendering = true;
    let output: string | undefined;
    const render = template.render as unknown as (
      ctx: object,
      frame: NunjucksFrame,
      cb: (err: Error | null, res: string) => void,
    ) => void;
    try {
      render.call(template, context, new this.Frame(), (err, res) => {
        if (!rendering) return; // the late call: this render failed already (below)
        // Thrown, as nunjucks' synchronous render throws it: the first error stops the render.
        if (err) throw err;
        output = res;
      });
    } finally {
      rendering = false;
    }
    if (output === undefined) {
      throw new Error(
        `The template '${name}' did not render synchronously: a template it includes does not compile, or it uses an async filter`,
      );
    }
    return output;
  }

  /** The context of a render; a promise only when a context processor returns one. */
  private context(
    req: Request,
    context: object,
  ): Record<string, unknown> | Promise<Record<string, unknown>> {
    const ctx: Record<string, unknown> = { request: req, settings: this.app.settings };
    const processors = this.processors;
    for (let i = 0; i < processors.length; i++) {
      const out = processors[i](req);
      if (out instanceof Promise) return this.contextAsync(req, context, ctx, out, i);
      Object.assign(ctx, out);
    }
    return Object.assign(ctx, context);
  }

  private async contextAsync(
    req: Request,
    context: object,
    ctx: Record<string, unknown>,
    pending: Promise<Record<string, unknown>>,
    at: number,
  ): Promise<Record<string, unknown>> {
    Object.assign(ctx, await pending);
    for (let i = at + 1; i < this.processors.length; i++)
      Object.assign(ctx, await this.processors[i](req));
    return Object.assign(ctx, context);
  }

  private template(name: string, compiled: Template | undefined): Template {
    return compiled !== undefined && !this.app.debug ? compiled : this.env.getTemplate(name, true);
  }
}

/**
 * Renders a template for a request into an HTML response, without `@Template`.
 *
 * @example
 * return render(req, 'project.html', { project }, { status: 201 });
 */
export async function render(
  req: Request,
  name: string,
  context: object = {},
  init?: { status?: number; headers?: Record<string, string> },
): Promise<Response> {
  const templates = req.app.templates;
  if (templates === undefined) {
    throw new RococoError(
      'ROCOCO_PLUGIN',
      `render('${name}'): the 'templates' plugin is not installed: add templates({ dir }) to createApp({ plugins })`,
    );
  }
  return html(await templates.renderString(req, name, context), init);
}

// nunjucks passes keyword arguments (`url('x', id=1)`) as an object marked __keywords.
function withoutKeywords<T extends object>(value: T | undefined): T | undefined {
  if (value === undefined || value === null || !('__keywords' in value)) return value;
  const { __keywords: _, ...rest } = value as T & { __keywords: unknown };
  return rest as T;
}
