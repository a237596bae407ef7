import { Controller, Delete, Get, inject, json, Post, Put, Request, SETTINGS } from '../../src';
import type { AppSettings } from '../settings';
import { parseProjectInput } from './project-input';
import { ProjectsService } from './projects.service';

/** The projects API, named as in the talk's `add_route_context` example. */
@Controller('/api', { name: 'api' })
export class ProjectsController {
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
        projects: app.url('api.projects'),
        add_project: app.url('api.add_project'),
        project: app.url('api.project', { project_id: 42 }).replace('42', '{project_id}'),
      },
      locale: req.query.get('locale') ?? this.settings.DEFAULT_LOCALE,
    };
  }

  @Get('/projects', { name: 'projects' })
  list() {
    return { projects: this.projects.list() };
  }

  @Post('/projects', { name: 'add_project' })
  async add(req: Request) {
    const project = this.projects.add(parseProjectInput(await req.json()));
    const location = req.app.url('api.project', { project_id: project.id });
    return json(project, { status: 201, headers: { location } });
  }

  @Get('/project/<project_id:\\d+>', { name: 'project' })
  show(req: Request) {
    return this.projects.get(Number(req.params.project_id));
  }

  @Put('/project/<project_id:\\d+>', { name: 'edit_project' })
  async edit(req: Request) {
    return this.projects.update(Number(req.params.project_id), parseProjectInput(await req.json()));
  }

  @Delete('/project/<project_id:\\d+>', { name: 'delete_project' })
  remove(req: Request): void {
    this.projects.remove(Number(req.params.project_id));
  }
}
