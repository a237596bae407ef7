// rococo, as a user writes it: controllers, @Template, Database with the sql tag, @Schema,
// @WebSocket and the Hub. rococo.ts serves it with app.listen(); the -w 2 scenarios with
// `rococo serve dist/rococo-app.js -w 2`.
import {
  Controller,
  createApp,
  Database,
  Get,
  Param,
  Post,
  Put,
  Delete,
  Hub,
  Request,
  Schema,
  sql,
  Template,
  WebSocket,
  WebSocketConnection,
  immutableSettings,
  schemas,
  templates,
  websockets,
  hub,
  database,
  cors,
  securityHeaders,
  rateLimit,
  compression,
  tracing,
  health,
  metrics,
  type Plugin,
} from '../../dist/src';
import { ItemInput, OrderInput } from './dto';
const c = require('../servers/common');

@Controller()
class ProjectController {
  @Get('/projects/<id:\\d+>', { name: 'project' })
  project(req: Request) {
    return { id: Number(req.params.id) };
  }
}

/** TYPED_PARAMS=1 (for `npm run bench:callgrind`): the same route with a converter and `@Param`. */
@Controller()
class TypedProjectController {
  @Get('/projects/<id:int>', { name: 'project' })
  project(@Param('id') id: number) {
    return { id };
  }
}

@Controller()
class MainController {
  constructor(private readonly db: Database) {}

  @Get('/', { name: 'hello' })
  hello() {
    return { hello: 'world' };
  }

  @Post('/echo', { name: 'echo' })
  echo(req: Request) {
    return req.json();
  }

  @Get('/page', { name: 'page' })
  @Template(c.PAGE_TEMPLATE)
  page() {
    return c.PAGE;
  }

  @Get('/db', { name: 'db' })
  db_() {
    return this.db.one(sql`SELECT id, name FROM bench_items WHERE id = ${c.randomId()}`);
  }

  @Post('/validate', { name: 'validate' })
  @Schema(ItemInput)
  validate(req: Request<ItemInput>) {
    return req.data;
  }

  @Post('/validate-order', { name: 'validate-order' })
  @Schema(OrderInput)
  validateOrder(req: Request<OrderInput>) {
    return req.data;
  }
}

// rococo's dist/ reads the root's copy of class-transformer (see dto.ts): the response classes'
// @Expose and @Type go to that copy's store.
const { Expose, Type } =
  require('../../node_modules/class-transformer') as typeof import('class-transformer');

/** A project's owner as GET /projects-out shows it. */
class OwnerOut {
  @Expose() id!: number;
  @Expose() name!: string;
}

/** A project as GET /projects-out shows it: a nested owner, a date, and no password hash. */
class ProjectOut {
  @Expose() id!: number;
  @Expose() name!: string;
  @Expose() slug!: string;
  @Expose() description!: string;
  @Expose() @Type(() => OwnerOut) owner!: OwnerOut;
  @Expose() created_at!: Date;
}

/** 20 rows as a database gives them: more columns than the API shows. */
const PROJECT_ROWS = Array.from({ length: 20 }, (_, i) => ({
  id: i + 1,
  name: `Project ${i + 1}`,
  slug: `project-${i + 1}`,
  description: 'A project of the benchmark, with a description of a few words.',
  password_hash: '$2b$12$0123456789012345678901234567890123456789012345678901',
  owner: { id: 100 + i, name: `Owner ${i}`, email: `owner${i}@example.com` },
  created_at: new Date(Date.UTC(2024, 0, 1 + i)),
}));

/** For `npm run bench:callgrind -- --path /projects-out`: what @Schema({ response }) costs. */
@Controller()
class OutputController {
  @Get('/projects-out', { name: 'projects-out' })
  @Schema({ response: [ProjectOut] })
  projects() {
    return PROJECT_ROWS;
  }
}

/** The WebSocket scenarios: an echo, and a fan-out through the Hub (see ws-load.js). */
@Controller('/ws', { name: 'ws' })
class LiveController {
  constructor(private readonly hub: Hub) {}

  @WebSocket('/echo', { name: 'echo' })
  async echo(ws: WebSocketConnection) {
    for await (const msg of ws) await ws.send(msg.isBinary ? msg.data : msg.text);
  }

  /** Every connection here gets every message published on /ws/pub, unchanged. */
  @WebSocket('/sub', { name: 'sub' })
  async sub(ws: WebSocketConnection) {
    const off = this.hub.subscribe('fanout', (text) => ws.send(text as string));
    await ws.closed;
    off();
  }

  @WebSocket('/pub', { name: 'pub' })
  async pub(ws: WebSocketConnection) {
    for await (const msg of ws) await this.hub.publish('fanout', msg.text);
  }
}

/** One controller per REST resource: list, create, show, update, delete. */
function resource(name: string) {
  @Controller(`/api/v1/${name}`, { name })
  class ResourceController {
    @Get('', { name: 'list' })
    list() {
      return [];
    }
    @Post('', { name: 'create' })
    create() {
      return { resource: name, created: true };
    }
    @Get('/<id>', { name: 'show' })
    show(req: Request) {
      return { resource: name, id: Number(req.params.id) };
    }
    @Put('/<id>', { name: 'update' })
    update(req: Request) {
      return { resource: name, id: Number(req.params.id), updated: true };
    }
    @Delete('/<id>', { name: 'delete' })
    remove(req: Request) {
      return { resource: name, id: Number(req.params.id), deleted: true };
    }
  }
  Object.defineProperty(ResourceController, 'name', { value: `${name}Controller` });
  return ResourceController;
}

/** The plugin scenarios (run.js): one plugin of rococo's, with the settings every server shares. */
const PLUGINS: Record<string, () => Plugin> = {
  cors: () => cors({ origins: [c.CORS_ORIGIN], credentials: true }),
  headers: () => securityHeaders(),
  'rate-memory': () => rateLimit({ points: c.RATE.points, duration: c.RATE.seconds }),
  'rate-redis': () => rateLimit({ points: c.RATE.points, duration: c.RATE.seconds }),
  compress: () => compression({ threshold: c.COMPRESS_THRESHOLD }),
  // For `npm run bench:callgrind`: what /healthz and /readyz cost the other routes (nothing).
  health: () => health(),
  // For `npm run bench:callgrind`: what metrics() adds to a request (defaults included).
  metrics: () => metrics(),
  // For `npm run bench:callgrind`: what one send hook that does nothing costs.
  'send-hook': () => ({ name: 'noop-send-hook', setup: (app) => void app.onSend(() => undefined) }),
  // For `npm run bench:callgrind`: tracing() with no OpenTelemetry SDK (it must cost nothing),
  // and with one that records every span and exports none (what tracing itself costs).
  tracing: () => tracing(),
  'tracing-sdk': () => tracing(),
};

if (c.PLUGIN === 'tracing-sdk') {
  // Before createApp, as an app must (tracing() looks for the SDK at setup). The SDK packages
  // are the root's devDependencies.
  const api = require('@opentelemetry/api') as typeof import('@opentelemetry/api');
  const { BasicTracerProvider } =
    require('@opentelemetry/sdk-trace-base') as typeof import('@opentelemetry/sdk-trace-base');
  const { AsyncLocalStorageContextManager } =
    require('@opentelemetry/context-async-hooks') as typeof import('@opentelemetry/context-async-hooks');
  const { W3CTraceContextPropagator } =
    require('@opentelemetry/core') as typeof import('@opentelemetry/core');
  api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  api.propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  api.trace.setGlobalTracerProvider(new BasicTracerProvider());
}

export default createApp({
  controllers: [
    MainController,
    process.env.TYPED_PARAMS === '1' ? TypedProjectController : ProjectController,
    LiveController,
    OutputController,
    ...c.RESOURCES.map(resource),
  ],
  // The peers log nothing per request; an access-log line is measured on its own (see README).
  settings: immutableSettings({
    DATABASE_URL: c.DATABASE_URL,
    ACCESS_LOG: process.env.ACCESS_LOG === '1',
    // The rate limit counts in Redis when the app has one.
    ...(c.PLUGIN === 'rate-redis' ? { REDIS_URL: c.REDIS_URL } : {}),
  }),
  plugins: [
    database({ max: c.POOL_SIZE }),
    templates({ dir: c.TEMPLATES }),
    schemas(),
    websockets(),
    hub(),
    ...(c.PLUGIN ? [PLUGINS[c.PLUGIN]()] : []),
  ],
});
