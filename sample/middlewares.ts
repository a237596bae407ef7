import {
  HTTPError,
  HTTPInternalServerError,
  HTTPRedirection,
  render,
  type Middleware,
  type Request,
} from '../src';

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
 * (and by `csrf()`, which comes after it) are caught here and rendered with `error.html` for
 * browsers; API clients and everything else get the framework's problem+json.
 */
export const errorPages: Middleware = async (req, next) => {
  try {
    return await next();
  } catch (e) {
    if (!wantsHtml(req) || e instanceof HTTPRedirection) throw e;
    // In DEBUG an unhandled error goes on to rococo's debug page (stack, route, request).
    if (req.app.debug && !(e instanceof HTTPError)) throw e;
    let error: HTTPError;
    if (e instanceof HTTPError) {
      error = e;
    } else {
      req.app.log.error({ err: e, method: req.method, url: req.url }, 'unhandled error');
      error = new HTTPInternalServerError();
    }
    let res;
    try {
      res = await render(req, 'error.html', { error }, { status: error.status });
    } catch (renderError) {
      // The page needs the session and the database (the header's user): when they are what
      // failed (a 503), the error goes out as problem+json instead. That failure is theirs to
      // log (once an outage, not once a request); only a broken page is logged here.
      if (!(renderError instanceof HTTPError))
        req.app.log.warn(
          { err: renderError, status: error.status },
          'the error page could not be rendered',
        );
      throw error;
    }
    for (const [k, v] of Object.entries(error.headers)) res.setHeader(k, v);
    return res;
  }
};
