import {
  createParamDecorator,
  getSession,
  HTTPSeeOther,
  HTTPUnauthorized,
  type ContextProcessor,
  type Middleware,
  type Request,
  type Response,
} from '../../src';
import { UsersService, type User } from '../users/users.service';

/** The session key of the logged-in user's id. */
export const USER_ID = 'user_id';

const CURRENT = Symbol('sample.currentUser');

/**
 * The logged-in user, or null: the session's `user_id`, read from the database once per
 * request. A session that names a user who is gone forgets them.
 */
export function currentUser(req: Request): Promise<User | null> {
  return ((req.state[CURRENT] as Promise<User | null> | undefined) ??= load(req));
}

async function load(req: Request): Promise<User | null> {
  const session = await getSession(req);
  const id = session.get(USER_ID);
  if (typeof id !== 'number') return null;
  const user = await req.app.container.resolve(UsersService).find(id);
  if (user === null) session.delete(USER_ID);
  return user;
}

/**
 * The logged-in user of a page; without one, a 303 to the login page, which comes back to
 * `next` (a local path: the page that was asked for, or the form a POST came from).
 */
export async function loginRequired(req: Request, next: string): Promise<User> {
  const user = await currentUser(req);
  if (user === null) throw new HTTPSeeOther(req.app.url('auth.login', {}, { next }));
  return user;
}

/** The logged-in user of an API request; without one, a 401 problem. */
export async function apiUser(req: Request): Promise<User> {
  const user = await currentUser(req);
  if (user === null)
    throw new HTTPUnauthorized(
      'Log in first (the form at /login); then send the session cookie it sets.',
    );
  return user;
}

/**
 * `@CurrentUser()`: the logged-in user of an API request as a handler parameter; without one, a
 * 401 problem (`apiUser`).
 *
 * @example
 * async add(@Req() req: Request<ProjectInput>, @CurrentUser() user: User) { ... }
 */
export const CurrentUser = createParamDecorator((req) => apiUser(req), 'CurrentUser');

/**
 * `@Use(apiLoginRequired)`: a 401 before the body is even validated. Its `openapi` puts the
 * 401 and the session cookie on the operations of the routes it wraps.
 */
export const apiLoginRequired: Middleware = Object.assign(
  async (req: Request, next: () => Promise<Response>) => {
    await apiUser(req);
    return next();
  },
  {
    openapi: {
      responses: { 401: 'Not logged in: log in at /login, then send the session cookie' },
      security: [{ session: [] }],
    },
  },
);

/** Puts `current_user` (a User or null) in every template, for the header. */
export const currentUserContext: ContextProcessor = async (req) => ({
  current_user: await currentUser(req),
});
