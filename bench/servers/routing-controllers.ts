// routing-controllers on Express (4, its own optional dependency), validating with class-validator.
import 'reflect-metadata';
import {
  Body,
  ContentType,
  Controller,
  createExpressServer,
  Delete,
  Get,
  HttpCode,
  JsonController,
  Param,
  Post,
  Put,
} from 'routing-controllers';
import nunjucks from 'nunjucks';
import { Pool } from 'pg';
import { ItemInput, OrderInput } from './dto';
const c = require('../servers/common');

const env = nunjucks.configure(c.TEMPLATES, { autoescape: true });
const pool = new Pool({ connectionString: c.DATABASE_URL, max: c.POOL_SIZE });

@JsonController()
class MainController {
  @Get('/')
  hello() {
    return { hello: 'world' };
  }

  @Get('/projects/:id(\\d+)')
  project(@Param('id') id: string) {
    return { id: Number(id) };
  }

  @Post('/echo')
  echo(@Body() body: unknown) {
    return body;
  }

  @Get('/db')
  async db() {
    return (await pool.query(c.DB_QUERY, [c.randomId()])).rows[0];
  }

  @Post('/validate')
  validate(@Body() body: ItemInput) {
    return body;
  }

  @Post('/validate-order')
  validateOrder(@Body() body: OrderInput) {
    return body;
  }
}

@Controller()
class PageController {
  @Get('/page')
  @ContentType('text/html; charset=utf-8')
  page() {
    return env.render(c.PAGE_TEMPLATE, c.PAGE);
  }
}

function resource(name: string) {
  @JsonController(`/api/v1/${name}`)
  class ResourceController {
    @Get('')
    list() {
      return [];
    }
    @Post('')
    @HttpCode(201)
    create() {
      return { resource: name, created: true };
    }
    @Get('/:id')
    show(@Param('id') id: string) {
      return { resource: name, id: Number(id) };
    }
    @Put('/:id')
    update(@Param('id') id: string) {
      return { resource: name, id: Number(id), updated: true };
    }
    @Delete('/:id')
    remove(@Param('id') id: string) {
      return { resource: name, id: Number(id), deleted: true };
    }
  }
  Object.defineProperty(ResourceController, 'name', { value: `${name}Controller` });
  return ResourceController;
}

createExpressServer({
  controllers: [MainController, PageController, ...c.RESOURCES.map(resource)],
  validation: { whitelist: true },
  classTransformer: true,
}).listen(c.PORT, c.HOST);
