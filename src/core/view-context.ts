import { RococoError } from './errors';
import type { Request } from './request';

/** Adds keys to the context of every view rendered for a request (a user, a menu...). */
export type ContextProcessor = (
  req: Request,
) => Record<string, unknown> | Promise<Record<string, unknown>>;

/**
 * What plugins and middlewares put in every view, whichever plugin renders views (templates):
 * globals (`static()`) and context processors (sessions' `messages`, CSRF's `csrf_input()`).
 * The kernel only keeps the lists; a view plugin reads them when it renders.
 *
 * @example
 * app.view.addContextProcessor(async (req) => ({ user: await currentUser(req) }));
 */
export class ViewContext {
  private readonly _globals = new Map<string, unknown>();
  private readonly _processors: ContextProcessor[] = [];

  /** Names available in every view, added by plugins (a view plugin's own options add more). */
  get globals(): ReadonlyMap<string, unknown> {
    return this._globals;
  }

  /** Context processors, in the order they were added; each render calls them all. */
  get processors(): readonly ContextProcessor[] {
    return this._processors;
  }

  /** Adds a global; a name given twice stops startup. */
  addGlobal(name: string, value: unknown): void {
    if (this._globals.has(name))
      throw new RococoError(
        'ROCOCO_PLUGIN',
        `app.view.addGlobal('${name}'): '${name}' is added twice`,
      );
    this._globals.set(name, value);
  }

  /** Adds a context processor after those already added. */
  addContextProcessor(processor: ContextProcessor): void {
    this._processors.push(processor);
  }
}
