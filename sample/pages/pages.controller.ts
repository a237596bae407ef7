import { Controller, Get, inject, Request, SETTINGS, Template } from '../../src';
import { ProjectsService } from '../projects/projects.service';
import type { AppSettings } from '../settings';
import { UsersService } from '../users/users.service';

const LOCALE = /^[a-z]{2,3}([_-][A-Za-z]{2,4})?$/;

/** The index and the search page. */
@Controller()
export class PagesController {
  constructor(
    private readonly projects: ProjectsService,
    private readonly users: UsersService,
    @inject(SETTINGS) private readonly settings: AppSettings,
  ) {}

  @Get('/', { name: 'index' })
  @Template('index.html')
  async index() {
    const [projects, users] = await Promise.all([this.projects.list(), this.users.list()]);
    return { projects: projects.slice(-5).reverse(), projectCount: projects.length, users };
  }

  /** `?query=` searches names and descriptions; `?locale=` picks how dates read. */
  @Get('/search', { name: 'search' })
  @Template('search.html')
  async search(req: Request) {
    const query = (req.query.get('query') ?? '').trim().slice(0, 100);
    const asked = req.query.get('locale') ?? '';
    const locale = LOCALE.test(asked) ? asked : this.settings.DEFAULT_LOCALE;
    const results = query === '' ? [] : await this.projects.search(query);
    const dates = new Intl.DateTimeFormat(locale.replace('_', '-'), { dateStyle: 'long' });
    return { query, locale, results: results.map((p) => ({ ...p, created: dates.format(p.created_at) })) };
  }
}
