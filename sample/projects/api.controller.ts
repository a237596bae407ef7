import { Controller, Delete, Get, HTTPUnprocessableEntity, inject, json, Post, Put, Request, SETTINGS } from '../../src';
import type { AppSettings } from '../settings';
import { validateProject } from './project-input';
import { ProjectsService } from './projects.service';

/** The JSON API, named as in the talk's `add_route_context` example. */
@Controller('/api', { name: 'api' })
export class ApiController {
  constructor(
    private readonly projects: ProjectsService,
    @inject(SETTINGS) private readonly settings: AppSettings,
  ) {}

  /** The API browser: where everything is, built with reverse URLs. */
  @Get('/', { name: 'index' })
  index(req: Request) {
    const app = req.app;
    return {
      urls: {
        add_project: app.url('api.add_project'),
        project: app.url('api.project', { project_id: 42 }).replace('42', '{project_id}'),
        projects: app.url('api.projects'),
      },
      locale: req.query.get('locale') ?? this.settings.DEFAULT_LOCALE,
    };
  }

  @Get('/projects', { name: 'projects' })
  async list() {
    return { projects: await this.projects.list() };
  }

  @Post('/projects', { name: 'add_project' })
  async add(req: Request) {
    const project = await this.projects.add(this.valid(await req.json()));
    return json(project, { status: 201, headers: { location: req.app.url('api.project', { project_id: project.id }) } });
  }

  @Get('/projects/<project_id:\\d+>', { name: 'project' })
  show(req: Request) {
    return this.projects.get(Number(req.params.project_id));
  }

  @Put('/projects/<project_id:\\d+>', { name: 'edit_project' })
  async edit(req: Request) {
    return this.projects.update(Number(req.params.project_id), this.valid(await req.json()));
  }

  @Delete('/projects/<project_id:\\d+>', { name: 'delete_project' })
  async remove(req: Request): Promise<void> {
    await this.projects.remove(Number(req.params.project_id));
  }

  private valid(body: unknown) {
    const { value, errors } = validateProject(body);
    if (errors.length > 0) throw new HTTPUnprocessableEntity('The project is not valid', { extensions: { errors } });
    return value;
  }
}
