import type { Middleware } from '../src';

/** Tells how long the server worked on a request (`Server-Timing`), as browsers' devtools show. */
export const serverTiming: Middleware = async (req, next) => {
  const start = process.hrtime.bigint();
  const res = await next();
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  res.setHeader('server-timing', `app;dur=${ms.toFixed(1)}`);
  return res;
};
