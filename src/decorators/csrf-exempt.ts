import { handlerMeta } from '../core/metadata';
import { metaKey } from '../core/plugin';

/** Where `@CsrfExempt` records, for the `csrf()` middleware; without it, it changes nothing. */
export const CSRF_EXEMPT = metaKey('@CsrfExempt', 'csrf', { required: false });

/**
 * Lets unsafe requests to this route through `csrf()` without a token: for endpoints that
 * other servers call (a payment webhook) and that authenticate in their own way.
 *
 * @example
 * @Post('/hooks/payments')
 * @CsrfExempt()
 * async paid(req: Request) { verifySignature(req); ... }
 */
export function CsrfExempt(): MethodDecorator {
  return (target, key) => {
    handlerMeta(target.constructor, String(key)).extras.set(CSRF_EXEMPT, true);
  };
}
