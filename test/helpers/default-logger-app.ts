/**
 * An app with the default logger (no `logger` option), for the logging suite: run in a child
 * process (`node -r ts-node/register/transpile-only`), it writes its log lines to stdout as a
 * user's app does, prints `listening <url>` on stderr, and closes when stdin ends.
 */
import 'reflect-metadata';
import { fstatSync } from 'node:fs';
import { Controller, createApp, Get, type Request } from '../../src';

@Controller('')
class LeakyController {
  @Get('/leak')
  leak(req: Request) {
    req.log.info({ headers: req.headers }, 'as headers');
    req.log.info({ req: { headers: req.headers } }, 'as req.headers');
    req.log.info({ session: { user_id: 7, note: 'session-value-1' } }, 'as session');
    req.log.info(
      { user: { id: 7, session: { note: 'session-value-2' }, password: 'password-value-1' } },
      'nested',
    );
    req.log.info({ password: 'password-value-2', email: 'demo@example.com' }, 'as password');
    return { ok: true };
  }

  /**
   * Logs `n` lines in one turn of the event loop, then says how many bytes stdout holds (a file,
   * in the test that asks): what the logger has written, not queued.
   */
  @Get('/burst/<n:\\d+>')
  burst(req: Request) {
    const n = Number(req.params.n);
    for (let i = 0; i < n; i++) req.log.info({ i, pad: 'x'.repeat(100) }, 'burst');
    return { written: fstatSync(1).size };
  }

  /** Exits as soon as its response is out: what is still in the logger's buffers then. */
  @Get('/exit')
  exit() {
    setTimeout(() => process.exit(0), 20);
    return { bye: true };
  }
}

const app = createApp({ controllers: [LeakyController], settings: { LOG_LEVEL: 'info' } });
app.listen(0).then(
  (url) => process.stderr.write(`listening ${url}\n`),
  (err) => {
    process.stderr.write(`failed ${String(err)}\n`);
    process.exit(1);
  },
);
process.stdin.resume();
process.stdin.on('end', () => {
  app.close().then(() => process.exit(0));
});
