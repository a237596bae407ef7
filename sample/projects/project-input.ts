/** What a client may send to create or change a project. */
export interface ProjectInput {
  name: string;
  slug: string;
  description: string;
}

/** A field that did not validate, as the 422 problem and the HTML form show it. */
export interface FieldError {
  path: string;
  messages: string[];
}

/**
 * Checks a project from a JSON body or a form. The schema issue replaces this with
 * `@Schema(AddProject)`; until then the rules live here, once for the API and the pages.
 */
export function validateProject(body: unknown): { value: ProjectInput; errors: FieldError[] } {
  const errors: FieldError[] = [];
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return { value: { name: '', slug: '', description: '' }, errors: [{ path: '', messages: ['The body must be an object.'] }] };
  }
  const { name, slug, description = '' } = body as Record<string, unknown>;
  if (typeof name !== 'string' || name.trim().length < 1 || name.length > 32) {
    errors.push({ path: 'name', messages: ['Give the project a name of 1 to 32 characters.'] });
  }
  if (typeof slug !== 'string' || !/^[a-z0-9-]{1,32}$/.test(slug)) {
    errors.push({ path: 'slug', messages: ['Use 1 to 32 lower-case letters, digits or hyphens.'] });
  }
  if (typeof description !== 'string' || description.length > 255) {
    errors.push({ path: 'description', messages: ['Keep the description under 256 characters.'] });
  }
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  return { value: { name: str(name).trim(), slug: str(slug), description: str(description) }, errors };
}

/** A form's fields as a plain object (the last value of a repeated field wins). */
export function formObject(form: FormData): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of form) if (typeof v === 'string') out[k] = v;
  return out;
}
