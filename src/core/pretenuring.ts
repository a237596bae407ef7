import { setFlagsFromString } from 'node:v8';

let done = false;

/**
 * Turns off V8's allocation-site pretenuring for the process, once, unless node was started with
 * `--allocation-site-pretenuring` (the way to keep V8's default).
 *
 * Why: when clients drop connections with requests in flight (a load balancer's reset, a client's
 * timeout, the end of a load test), the dead sockets sit in the old generation until the next full
 * collection and keep the young objects of their last requests alive. V8 counts those as
 * long-lived and from then on allocates objects of those sites (node's request internals among
 * them) in the old generation, for the life of the process: every request then drags young
 * objects into the old generation. Measured on the bench app, pipelined `POST /echo` fell from
 * 63-70k to 44-47k requests a second after the first burst of dropped connections, and stayed
 * there; raw node:http does the same once its heap holds 30 MB of data. Without pretenuring it
 * stays at 63-70k. A server's objects are per request: they gain nothing from being pretenured.
 */
export function avoidPretenuringCliff(): void {
  if (done) return;
  done = true;
  // node refuses V8 flags in NODE_OPTIONS: the command line is the only place to ask.
  // V8 reads `_` and `-` alike in a flag's name.
  if (process.execArgv.some((a) => a.replace(/_/g, '-') === '--allocation-site-pretenuring'))
    return;
  setFlagsFromString('--no-allocation-site-pretenuring');
}
