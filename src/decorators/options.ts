/** Throws for option keys a decorator does not know: a typo must fail where it is written. */
export function checkOptions(
  where: string,
  options: object | undefined,
  known: readonly string[],
): void {
  if (options === undefined) return;
  for (const key of Object.keys(options)) {
    if (!known.includes(key))
      throw new TypeError(`${where}: unknown option '${key}' (known: ${known.join(', ')})`);
  }
}
