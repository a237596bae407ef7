// rococo, as a user writes it: controllers, @Template, Database with the sql tag, @Schema.
import { Controller, createApp, Database, Get, Post, Put, Delete, Request, Schema, sql, Template, immutableSettings } from '../../dist/src';
import { ItemInput } from './dto';
const c = require('../servers/common');

@Controller()
class MainController {
  constructor(private readonly db: Database) {}

  @Get('/', { name: 'hello' })
  hello() {
    return { hello: 'world' };
  }

  @Get('/projects/<id:\\d+>', { name: 'project' })
  project(req: Request) {
    return { id: Number(req.params.id) };
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

const app = createApp({
  controllers: [MainController, ...c.RESOURCES.map(resource)],
  settings: immutableSettings({ DATABASE_URL: c.DATABASE_URL }),
  database: { max: c.POOL_SIZE },
  templates: { dir: c.TEMPLATES },
});
app.listen(c.PORT, c.HOST).catch((err) => {
  console.error(err);
  process.exit(1);
});
