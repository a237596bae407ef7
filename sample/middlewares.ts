import { HTTPError, HTTPInternalServerError, HTTPRedirection, render, type Middleware, type Request } from '../src';

/** Tells how long the server worked on a request (`Server-Timing`), as browsers' devtools show. */
export const serverTiming: Middleware = async (req, next) => {
  const start = process.hrtime.bigint();
  const timing = () => `app;dur=${(Number(process.hrtime.bigint() - start) / 1e6).toFixed(1)}`;
  try {
    return (await next()).setHeader('server-timing', timing());
  } catch (e) {
    if (e instanceof HTTPError) e.headers['server-timing'] = timing();
    throw e;
  }
};

function wantsHtml(req: Request): boolean {
  return !req.path.startsWith('/api/') && (req.headers.accept ?? '').includes('text/html');
}

/**
 * Error pages, written as the talk writes its error middleware: HTTP errors thrown by handlers
 * are caught here and rendered with `error.html` for browsers; API clients and everything else
 * get the framework's problem+json.
 */
export const errorPages: Middleware = async (req, next) => {
  try {
    return await next();
  } catch (e) {
    if (!wantsHtml(req) || e instanceof HTTPRedirection) throw e;
    let error: HTTPError;
    if (e instanceof HTTPError) {
      error = e;
    } else {
      req.app.log.error({ err: e, method: req.method, url: req.url }, 'unhandled error');
      error = new HTTPInternalServerError();
    }
    const res = await render(req, 'error.html', { error }, { status: error.status });
    for (const [k, v] of Object.entries(error.headers)) res.setHeader(k, v);
    return res;
  }
};
