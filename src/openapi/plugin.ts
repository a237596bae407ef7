import { dirname } from 'node:path';
import { checkOptions } from '../core/options';
import type { Plugin } from '../core/plugin';
import { html, Response } from '../core/response';
import { StaticFiles } from '../static/files';
import { buildOpenAPI, OPENAPI_OPTION_KEYS, type OpenAPIOptions } from './document';

/**
 * An OpenAPI 3.1 document of the app's routes at `path` (`/openapi.json`), built once every
 * route is known (a schema that cannot be described stops startup), and a Swagger UI page at
 * `docs` (`/docs`) whose assets come from the swagger-ui-dist package: no CDN.
 *
 * @example
 * createApp({ controllers, plugins: [schemas(), openapi({ title: 'Tracker API', version: '1.0.0', prefix: '/api' })] });
 */
export function openapi(options: OpenAPIOptions): Plugin {
  checkOptions('openapi', options, OPENAPI_OPTION_KEYS);
  const path = options.path ?? '/openapi.json';
  const docs = options.docs ?? '/docs';
  let document = '';
  return {
    name: 'openapi',
    setup(app) {
      const json = { 'content-type': 'application/json; charset=utf-8' };
      const script = { 'content-type': 'text/javascript; charset=utf-8' };
      app.addRoute({
        methods: ['GET'],
        pattern: path,
        name: 'openapi',
        origin: 'openapi',
        handler: () => new Response(document, { headers: json }),
      });
      if (docs === false) return;
      const assets = `${docs.replace(/\/$/, '')}/assets`;
      new StaticFiles(
        [{ prefix: assets, dir: swaggerAssets(), name: 'openapi_assets' }],
        app.debug,
      ).addRoutes(app);
      const init = `${docs.replace(/\/$/, '')}/init.js`;
      app.addRoute({
        methods: ['GET'],
        pattern: init,
        name: 'openapi_docs_init',
        origin: 'openapi docs',
        handler: () => new Response(INIT_SCRIPT, { headers: script }),
      });
      const page = docsPage(options.title, path, assets, init);
      app.addRoute({
        methods: ['GET'],
        pattern: docs,
        name: 'openapi_docs',
        origin: 'openapi docs',
        handler: () => html(page),
      });
    },
    ready(app) {
      const built = buildOpenAPI(app.router.routes, options);
      document = JSON.stringify(built.document);
      if (app.debug && built.untyped.length > 0) {
        app.log.warn(
          { operations: built.untyped },
          'openapi: these operations answer JSON without a response class, documented as any JSON: give their @Schema a response',
        );
      }
    },
  };
}

/**
 * The folder of swagger-ui-dist's assets. Found, not required: the package's main module loads
 * the whole UI bundle into the server (about 40 MB of RSS) to export what only browsers use.
 */
function swaggerAssets(): string {
  return dirname(require.resolve('swagger-ui-dist/package.json'));
}

/**
 * Starts Swagger UI on the document the page names: a file rather than an inline script, so that
 * the page runs under a Content-Security-Policy without `'unsafe-inline'` (securityHeaders()).
 */
const INIT_SCRIPT = `'use strict';
var docs = document.getElementById('docs');
window.ui = SwaggerUIBundle({ url: docs.dataset.url, dom_id: '#docs', deepLinking: true });
`;

/** The Swagger UI page: its assets from this server, nothing from a CDN, no inline script. */
function docsPage(title: string, documentPath: string, assets: string, init: string): string {
  const esc = (t: string) => t.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>${esc(title)} · API</title>
  <link rel="stylesheet" href="${esc(assets)}/swagger-ui.css">
  <link rel="icon" type="image/png" href="${esc(assets)}/favicon-32x32.png">
</head>
<body>
  <div id="docs" data-url="${esc(documentPath)}"></div>
  <script src="${esc(assets)}/swagger-ui-bundle.js"></script>
  <script src="${esc(init)}"></script>
</body>
</html>
`;
}
