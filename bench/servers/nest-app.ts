// The NestJS app, served by nest-express.ts and nest-fastify.ts, with its WebSocket gateways.
import 'reflect-metadata';
import {
  Body,
  Controller,
  Delete,
  Get,
  Header,
  HttpCode,
  Inject,
  Module,
  NotFoundException,
  Param,
  Post,
  Put,
} from '@nestjs/common';
import nunjucks from 'nunjucks';
import { Pool } from 'pg';
import { ItemInput, OrderInput } from './dto';
import { GATEWAYS } from './nest-ws';
const c = require('../servers/common');

const DIGITS = /^\d+$/; // Nest's paths (path-to-regexp 8) take no regex: checked in the handler
const env = nunjucks.configure(c.TEMPLATES, { autoescape: true });

@Controller()
class MainController {
  constructor(@Inject(Pool) private readonly pool: Pool) {}

  @Get()
  hello() {
    return { hello: 'world' };
  }

  @Get('projects/:id')
  project(@Param('id') id: string) {
    if (!DIGITS.test(id)) throw new NotFoundException();
    return { id: Number(id) };
  }

  @Post('echo')
  @HttpCode(200)
  echo(@Body() body: unknown) {
    return body;
  }

  @Get('page')
  @Header('content-type', 'text/html; charset=utf-8')
  page() {
    return env.render(c.PAGE_TEMPLATE, c.PAGE);
  }

  @Get('db')
  async db() {
    return (await this.pool.query(c.DB_QUERY, [c.randomId()])).rows[0];
  }

  @Post('validate')
  @HttpCode(200)
  validate(@Body() body: ItemInput) {
    return body;
  }

  @Post('validate-order')
  @HttpCode(200)
  validateOrder(@Body() body: OrderInput) {
    return body;
  }
}

function resource(name: string) {
  @Controller(`api/v1/${name}`)
  class ResourceController {
    @Get()
    list() {
      return [];
    }
    @Post()
    create() {
      return { resource: name, created: true };
    }
    @Get(':id')
    show(@Param('id') id: string) {
      return { resource: name, id: Number(id) };
    }
    @Put(':id')
    update(@Param('id') id: string) {
      return { resource: name, id: Number(id), updated: true };
    }
    @Delete(':id')
    remove(@Param('id') id: string) {
      return { resource: name, id: Number(id), deleted: true };
    }
  }
  Object.defineProperty(ResourceController, 'name', { value: `${name}Controller` });
  return ResourceController;
}

@Module({
  controllers: [MainController, ...c.RESOURCES.map(resource)],
  providers: [
    {
      provide: Pool,
      useFactory: () => new Pool({ connectionString: c.DATABASE_URL, max: c.POOL_SIZE }),
    },
    ...GATEWAYS,
  ],
})
export class AppModule {}
