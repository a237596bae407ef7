import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { flattenErrors, type FieldError } from '../../src';
import { ProjectInput } from './project.schemas';

export { ProjectInput };

/**
 * Checks a submitted form with the same class the API's `@Schema` uses, so the pages and the
 * API give the same messages; the form is shown again with them.
 */
export function validateProject(body: Record<string, string>): {
  value: ProjectInput;
  errors: FieldError[];
} {
  const value = plainToInstance(ProjectInput, body);
  const errors = flattenErrors(validateSync(value, { whitelist: true }));
  return {
    value: { name: value.name ?? '', slug: value.slug ?? '', description: value.description ?? '' },
    errors,
  };
}
