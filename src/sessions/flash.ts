import type { Request } from '../core/request';
import { slotOf } from './middleware';

/** A message shown once, on the next page the user sees. */
export interface FlashMessage {
  message: string;
  /** `info` unless told: `success`, `warning`, `error`... as the templates style them. */
  category: string;
}

/**
 * Leaves a message for the next page the user sees (after a redirect, typically). It is kept
 * in the session, and templates list it in `messages` once. Needs the `sessions` middleware.
 *
 * @example
 * flash(req, 'Project saved', 'success');
 * throw new HTTPSeeOther(req.app.url('projects.show', { id }));
 */
export function flash(req: Request, message: string, category = 'info'): void {
  slotOf(req, 'flash').flash({ message: String(message), category });
}

/**
 * The flash messages waiting for this request, removed from the session: what a JSON handler
 * uses where templates have `messages`.
 */
export function flashedMessages(req: Request): Promise<FlashMessage[]> {
  return slotOf(req, 'flashedMessages').takeFlashes();
}
