import type { Constructor } from '../core/container';

type Storage = ReturnType<typeof import('class-validator').getMetadataStorage>;
interface TypeStore {
  findTypeMetadata(
    target: Constructor,
    key: string,
  ): { typeFunction?: (options?: unknown) => unknown } | undefined;
}

const guarded = new WeakSet<object>();

/**
 * Makes each `@IsNumber({ maxDecimalPlaces })` rule of an input class (and of its nested
 * classes) refuse a number it cannot count the decimals of, instead of throwing.
 *
 * Why: class-validator counts them in `String(value).split('.')[1]`, and a fraction written with
 * an exponent and no point (`5e-324`, `1e-7`) has none: a TypeError, so a 500 for a bad input.
 * Such a number has more decimals than any sensible limit, and the rule then answers false, as
 * it would for `0.001` under a limit of 2: the usual 422 with its message. The rule's
 * constraint is class-validator's own object for that one property (a class made per decorator
 * use), wrapped once; every other value gets its verdict unchanged.
 */
export function guardDecimalPlaces(cls: Constructor): void {
  const cv = require('class-validator') as typeof import('class-validator');
  const types = (require('class-transformer/cjs/storage') as { defaultMetadataStorage: TypeStore })
    .defaultMetadataStorage;
  walk(cls, cv.getMetadataStorage(), types, cv.ValidationTypes.NESTED_VALIDATION, new Set());
}

function walk(
  cls: Constructor,
  rules: Storage,
  types: TypeStore,
  nested: string,
  seen: Set<Constructor>,
): void {
  if (seen.has(cls)) return;
  seen.add(cls);
  for (const m of rules.getTargetValidationMetadatas(cls, '', true, false, undefined)) {
    if (m.type === nested) {
      const next = types.findTypeMetadata(cls, m.propertyName)?.typeFunction?.();
      if (typeof next === 'function') walk(next as Constructor, rules, types, nested, seen);
      continue;
    }
    const options = m.constraints?.[0] as { maxDecimalPlaces?: unknown } | undefined;
    if (m.name !== 'isNumber' || options?.maxDecimalPlaces === undefined) continue;
    for (const c of rules.getTargetValidatorConstraints(m.constraintCls)) {
      const instance = c.instance as { validate(value: unknown, args: unknown): unknown };
      if (guarded.has(instance)) continue;
      guarded.add(instance);
      const validate = instance.validate;
      instance.validate = function (value: unknown, args: unknown) {
        if (typeof value === 'number' && value % 1 !== 0 && !String(value).includes('.'))
          return false;
        return validate.call(this, value, args);
      };
    }
  }
}
