import { Controller, Get, HTTPConflict, HTTPFound, Post, Request, Template, render } from '../../src';
import type { FieldError } from '../../src';
import { formObject, validateProject, type ProjectInput } from './project-input';
import { ProjectsService } from './projects.service';

const EMPTY: ProjectInput = { name: '', slug: '', description: '' };

/** The project pages: list, page, and add / edit / delete through HTML forms. */
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
  add() {
    return { project: null, values: EMPTY, errors: {} };
  }

  @Post('', { name: 'create' })
  async create(req: Request) {
    const { value, errors } = validateProject(formObject(await req.form()));
    if (errors.length > 0) return this.formAgain(req, null, value, errors);
    let project;
    try {
      project = await this.projects.add(value);
    } catch (e) {
      if (!(e instanceof HTTPConflict)) throw e;
      return this.formAgain(req, null, value, [{ path: 'slug', messages: [e.message] }], 409);
    }
    throw new HTTPFound(req.app.url('projects.show', { project_id: project.id }, { added: 1 }));
  }

  @Get('/<project_id:\\d+>', { name: 'show' })
  @Template('project.html')
  async show(req: Request) {
    return { project: await this.projects.get(Number(req.params.project_id)), added: req.query.has('added') };
  }

  @Get('/<project_id:\\d+>/edit', { name: 'edit' })
  @Template('project_form.html')
  async edit(req: Request) {
    const project = await this.projects.get(Number(req.params.project_id));
    return { project, values: project, errors: {} };
  }

  @Post('/<project_id:\\d+>/edit', { name: 'update' })
  async update(req: Request) {
    const id = Number(req.params.project_id);
    const project = await this.projects.get(id);
    const { value, errors } = validateProject(formObject(await req.form()));
    if (errors.length > 0) return this.formAgain(req, project, value, errors);
    try {
      await this.projects.update(id, value);
    } catch (e) {
      if (!(e instanceof HTTPConflict)) throw e;
      return this.formAgain(req, project, value, [{ path: 'slug', messages: [e.message] }], 409);
    }
    throw new HTTPFound(req.app.url('projects.show', { project_id: id }));
  }

  @Post('/<project_id:\\d+>/delete', { name: 'delete' })
  async remove(req: Request) {
    await this.projects.remove(Number(req.params.project_id));
    throw new HTTPFound(req.app.url('projects.index'));
  }

  /** The form again, with what was typed and why it was refused (422 or 409, as the API says). */
  private formAgain(req: Request, project: unknown, values: ProjectInput, errors: FieldError[], status = 422) {
    const byField = Object.fromEntries(errors.map((e) => [e.path, e.messages.join(' ')]));
    return render(req, 'project_form.html', { project, values, errors: byField }, { status });
  }
}
