import { Controller, flash, Get, HTTPConflict, HTTPFound, Post, Request, Template, render } from '../../src';
import type { FieldError } from '../../src';
import { currentUser, loginRequired } from '../auth/current-user';
import { errorsByField, formObject } from '../forms';
import { canChange, mustOwn } from './ownership';
import { validateProject, type ProjectInput } from './project-input';
import { ProjectsService, type Project } from './projects.service';

const EMPTY: ProjectInput = { name: '', slug: '', description: '' };

/**
 * The project pages: list, page, and add / edit / delete through HTML forms. Adding needs a
 * login (a visitor goes to the login page and comes back); editing and deleting, the owner.
 */
@Controller('/projects', { name: 'projects' })
export class ProjectsController {
  constructor(private readonly projects: ProjectsService) {}

  @Get('', { name: 'index' })
  @Template('projects.html')
  async index() {
    return { projects: await this.projects.list() };
  }

  @Get('/new', { name: 'new' })
  @Template('project_form.html')
  async add(req: Request) {
    await loginRequired(req, req.app.url('projects.new'));
    return { project: null, values: EMPTY, errors: {} };
  }

  @Post('', { name: 'create' })
  async create(req: Request) {
    const user = await loginRequired(req, req.app.url('projects.new'));
    const { value, errors } = validateProject(formObject(await req.form()));
    if (errors.length > 0) return this.formAgain(req, null, value, errors);
    let project;
    try {
      project = await this.projects.add(value, user.id);
    } catch (e) {
      if (!(e instanceof HTTPConflict)) throw e;
      return this.formAgain(req, null, value, [{ path: 'slug', messages: [e.message] }], 409);
    }
    flash(req, `Project “${project.name}” was added.`, 'success');
    throw new HTTPFound(req.app.url('projects.show', { project_id: project.id }));
  }

  @Get('/<project_id:\\d+>', { name: 'show' })
  @Template('project.html')
  async show(req: Request) {
    const project = await this.projects.get(Number(req.params.project_id));
    return { project, canChange: canChange(await currentUser(req), project) };
  }

  @Get('/<project_id:\\d+>/edit', { name: 'edit' })
  @Template('project_form.html')
  async edit(req: Request) {
    const project = await this.owned(req);
    return { project, values: project, errors: {} };
  }

  @Post('/<project_id:\\d+>/edit', { name: 'update' })
  async update(req: Request) {
    const project = await this.owned(req);
    const { value, errors } = validateProject(formObject(await req.form()));
    if (errors.length > 0) return this.formAgain(req, project, value, errors);
    try {
      await this.projects.update(project.id, value);
    } catch (e) {
      if (!(e instanceof HTTPConflict)) throw e;
      return this.formAgain(req, project, value, [{ path: 'slug', messages: [e.message] }], 409);
    }
    flash(req, 'Your changes were saved.', 'success');
    throw new HTTPFound(req.app.url('projects.show', { project_id: project.id }));
  }

  @Post('/<project_id:\\d+>/delete', { name: 'delete' })
  async remove(req: Request) {
    const project = await this.owned(req);
    await this.projects.remove(project.id);
    flash(req, `Project “${project.name}” was deleted.`, 'success');
    throw new HTTPFound(req.app.url('projects.index'));
  }

  /**
   * The project of the path, for its owner: a visitor is sent to log in (and back to the
   * project), a missing project is a 404, someone else's a 403.
   */
  private async owned(req: Request): Promise<Project> {
    const id = Number(req.params.project_id);
    const user = await loginRequired(req, req.app.url(req.method === 'GET' ? 'projects.edit' : 'projects.show', { project_id: id }));
    const project = await this.projects.get(id);
    mustOwn(user, project);
    return project;
  }

  /** The form again, with what was typed and why it was refused (422 or 409, as the API says). */
  private formAgain(req: Request, project: Project | null, values: ProjectInput, errors: FieldError[], status = 422) {
    return render(req, 'project_form.html', { project, values, errors: errorsByField(errors) }, { status });
  }
}
