import { createParamDecorator } from '../decorators/params';
import { getSession } from './middleware';
import type { Session as SessionRecord } from './session';

/**
 * `@Session()`: the request's session as a handler parameter (`getSession(req)`, loaded on
 * first use; the route must go through `sessions()`). As a type, `Session` is the session
 * itself, so the decorator and the parameter's type read the same.
 *
 * @example
 * @Post('/cart') add(@Session() session: Session, @Body() item: CartItem) { session.set('cart', item); }
 */
export const Session = createParamDecorator((req) => getSession(req), 'Session');
/** A request's session: `get`, `set`, `delete`, `has`, `keys`, `clear`, `invalidate`... */
export type Session = SessionRecord;
