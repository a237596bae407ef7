import { Controller, Get, inject, Request, SETTINGS, Template } from '../../src';
import { ProjectsService } from '../projects/projects.service';
import type { AppSettings } from '../settings';
import { UsersService } from '../users/users.service';

const LOCALE = /^[a-z]{2,3}([_-][A-Za-z]{2,4})?$/;
const LOCALES = ['uk_UA', 'en_GB', 'en_US', 'de_DE'];

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
    const locale = supportedLocale(req.query.get('locale')) ?? this.settings.DEFAULT_LOCALE;
    const results = query === '' ? [] : await this.projects.search(query);
    const dates = new Intl.DateTimeFormat(locale.replace('_', '-'), { dateStyle: 'long' });
    return {
      query,
      locale,
      locales: LOCALES,
      results: results.map((p) => ({ ...p, created: dates.format(p.created_at) })),
    };
  }
}

/** A locale Intl can format dates in (`uk_UA`, `en-GB`), or undefined. */
function supportedLocale(asked: string | null): string | undefined {
  if (asked === null || !LOCALE.test(asked)) return undefined;
  try {
    return Intl.DateTimeFormat.supportedLocalesOf(asked.replace('_', '-')).length > 0
      ? asked
      : undefined;
  } catch {
    return undefined; // well-formed but unknown to ICU
  }
}
