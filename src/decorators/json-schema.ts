/**
 * Refines a property's (or a class's) JSON Schema in the OpenAPI document, where its
 * TypeScript type says too little: `number | null` has no runtime type, and a `number` may be
 * an integer. class-validator-jsonschema's own decorator, loaded when first used, so that an
 * app without schemas never loads it; its rules (class-validator) come first, this on top.
 *
 * @example
 * class ProjectOut {
 *   @Expose() @JSONSchema({ type: 'integer' }) id!: number;
 *   @Expose() @JSONSchema({ type: ['integer', 'null'] }) owner_id!: number | null;
 * }
 */
export function JSONSchema(
  schema: Readonly<Record<string, unknown>>,
): PropertyDecorator & ClassDecorator {
  const decorate = (
    require('class-validator-jsonschema') as typeof import('class-validator-jsonschema')
  ).JSONSchema(schema as never);
  return ((target: object, key?: string | symbol) =>
    decorate(target, key === undefined ? undefined : String(key))) as PropertyDecorator &
    ClassDecorator;
}
