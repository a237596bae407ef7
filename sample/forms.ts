import type { FieldError } from '../src';

/** A form's fields as a plain object (the last value of a repeated field wins; files are left out). */
export function formObject(form: FormData): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of form) if (typeof v === 'string') out[k] = v;
  return out;
}

/** Validation errors as `{ field: 'message. message' }`, what the form templates show under each field. */
export function errorsByField(errors: FieldError[]): Record<string, string> {
  return Object.fromEntries(errors.map((e) => [e.path, e.messages.join(' ')]));
}
