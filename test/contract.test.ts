import {
  createApp,
  Controller,
  Get,
  Post,
  Injectable,
  inject,
  SETTINGS,
  Request,
  HTTPFound,
  immutableSettings,
} from '../src';
import { testClient } from '../src/testing';

@Injectable()
class Greeter {
  greet(n: string) {
    return `hello ${n}`;
  }
}

@Controller('/api', { name: 'api' })
class ApiController {
  constructor(
    private greeter: Greeter,
    @inject(SETTINGS) private settings: { LOCALE: string },
  ) {}

  @Get('/projects/<id:\\d+>', { name: 'project' })
  async project(req: Request) {
    return { id: Number(req.params.id), locale: this.settings.LOCALE, hi: this.greeter.greet('x') };
  }

  @Post('/projects', { name: 'add_project' })
  async add(req: Request) {
    await req.json();
    throw new HTTPFound(req.app.url('api.project', { id: 7 }));
  }
}

test('smoke', async () => {
  const app = createApp({
    controllers: [ApiController],
    settings: immutableSettings({ LOCALE: 'uk_UA' }),
    middlewares: [async (req, next) => next()],
  });
  const client = await testClient(app);
  const res = await client.get('/api/projects/42');
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ id: 42, locale: 'uk_UA', hi: 'hello x' });
  const r2 = await client.post('/api/projects', { json: { a: 1 } });
  expect(r2.status).toBe(302);
  expect(r2.headers.get('location')).toBe('/api/projects/7');
  await client.close();
});
