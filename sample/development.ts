/**
 * Development, unless the environment says otherwise: `npm start` turns DEBUG on unless the
 * environment sets DEBUG or NODE_ENV=production.
 */
export function isDevelopment(env: Record<string, string | undefined> = process.env): boolean {
  return env.DEBUG === undefined && env.NODE_ENV !== 'production';
}
