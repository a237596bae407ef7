import {
  Controller,
  Delete,
  Doc,
  Get,
  inject,
  json,
  Post,
  Put,
  RateLimit,
  Req,
  Request,
  Schema,
  serialize,
  SETTINGS,
  Use,
} from '../../src';
import { apiLoginRequired, CurrentUser, USER_ID } from '../auth/current-user';
import type { User } from '../users/users.service';
import type { AppSettings } from '../settings';
import { LiveService, projectFields } from './live.service';
import { mustOwn } from './ownership';
import {
  ApiIndex,
  IndexQuery,
  ProjectInput,
  ProjectList,
  ProjectOut,
  ProjectParams,
} from './project.schemas';
import { ProjectsService } from './projects.service';

/** Writes per user and minute; each route put under it counts its own. */
const apiWrites = RateLimit({
  name: 'writes',
  points: (settings) => settings.API_WRITES_PER_MINUTE as number,
  duration: 60,
  key: { session: USER_ID },
});

/**
 * The JSON API, named as in the talk's `add_route_context` example; every route has a @Schema.
 * Reading is open to all; writing needs the session of a logged-in user (a 401 problem, checked
 * before the body), and changing or deleting a project, its owner (a 403). Changes reach the
 * project's open pages as the forms' do. Each write is rate limited per user (429 past it).
 */
@Controller('/api', { name: 'api' })
export class ApiController {
  constructor(
    private readonly projects: ProjectsService,
    private readonly live: LiveService,
    @inject(SETTINGS) private readonly settings: AppSettings,
  ) {}

  /** The API browser: where everything is, built with reverse URLs. */
  @Get('/', { name: 'index' })
  @Schema({ query: IndexQuery, response: ApiIndex })
  @Doc({
    summary: 'Where everything is',
    description: 'URLs of the API, the project URL with a `{project_id}` placeholder.',
  })
  index(req: Request<unknown, IndexQuery>) {
    const app = req.app;
    return {
      urls: {
        add_project: app.url('api.add_project'),
        project: app.url('api.project', { project_id: 42 }).replace('42', '{project_id}'),
        projects: app.url('api.projects'),
      },
      locale: req.validQuery.locale ?? this.settings.DEFAULT_LOCALE,
    };
  }

  @Get('/projects', { name: 'projects' })
  @Schema({ response: ProjectList })
  @Doc({ summary: 'All projects', description: 'Ordered by id.' })
  async list() {
    return { projects: await this.projects.list() };
  }

  @Post('/projects', { name: 'add_project' })
  @Use(apiLoginRequired)
  @apiWrites
  @Schema({ request: ProjectInput, response: ProjectOut, status: 201 })
  @Doc({
    summary: 'Add a project',
    description: 'A taken slug is a 409.',
    responses: { 409: 'The slug is taken' },
  })
  async add(@Req() req: Request<ProjectInput>, @CurrentUser() user: User) {
    const project = await this.projects.add(req.data, user.id);
    const location = req.app.url('api.project', { project_id: project.id });
    return json(serialize(ProjectOut, project), { status: 201, headers: { location } });
  }

  @Get('/projects/<project_id:id>', { name: 'project' })
  @Schema({ params: ProjectParams, response: ProjectOut })
  @Doc({ summary: 'One project' })
  show(req: Request<unknown, unknown, ProjectParams>) {
    return this.projects.get(req.validParams.project_id);
  }

  @Put('/projects/<project_id:id>', { name: 'edit_project' })
  @Use(apiLoginRequired)
  @apiWrites
  @Schema({ params: ProjectParams, request: ProjectInput, response: ProjectOut })
  @Doc({
    summary: 'Change a project',
    responses: { 403: 'Only its owner may change a project', 409: 'The slug is taken' },
  })
  async edit(@Req() req: Request<ProjectInput, unknown, ProjectParams>, @CurrentUser() user: User) {
    mustOwn(user, await this.projects.get(req.validParams.project_id));
    const project = await this.projects.update(req.validParams.project_id, req.data);
    await this.live.publish(project.id, { type: 'project', project: projectFields(project) });
    return project;
  }

  @Delete('/projects/<project_id:id>', { name: 'delete_project' })
  @Use(apiLoginRequired)
  @apiWrites
  @Schema({ params: ProjectParams, status: 204 })
  @Doc({ summary: 'Delete a project', responses: { 403: 'Only its owner may delete a project' } })
  async remove(
    @Req() req: Request<unknown, unknown, ProjectParams>,
    @CurrentUser() user: User,
  ): Promise<void> {
    mustOwn(user, await this.projects.get(req.validParams.project_id));
    await this.projects.remove(req.validParams.project_id);
    await this.live.publish(req.validParams.project_id, { type: 'deleted' });
  }
}
