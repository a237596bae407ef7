import {
  Controller,
  flash,
  Get,
  HTTPConflict,
  HTTPFound,
  HTTPUnprocessableEntity,
  json,
  Param,
  Post,
  Req,
  Request,
  Template,
  render,
} from '../../src';
import type { FieldError } from '../../src';
import { apiUser, currentUser, loginRequired } from '../auth/current-user';
import { errorsByField, formObject } from '../forms';
import { COMMENT_MAX, CommentsService, commentView, validateComment } from './comments.service';
import { LiveService, projectFields } from './live.service';
import { canChange, mustOwn } from './ownership';
import { validateProject, type ProjectInput } from './project-input';
import { ProjectsService, type Project } from './projects.service';

const EMPTY: ProjectInput = { name: '', slug: '', description: '' };

/** Whether a request is the live page's script, which wants JSON back rather than a page. */
function wantsJson(req: Request): boolean {
  return (req.headers.accept ?? '').includes('application/json');
}

/**
 * The project pages: list, page, and add / edit / delete through HTML forms. Adding needs a
 * login (a visitor goes to the login page and comes back); editing and deleting, the owner.
 * Logged-in users comment on a project's page. Comments, edits and deletions are published to
 * the project's open pages ({@link LiveService}; the socket is sample/projects/live.controller.ts).
 */
@Controller('/projects', { name: 'projects' })
export class ProjectsController {
  constructor(
    private readonly projects: ProjectsService,
    private readonly comments: CommentsService,
    private readonly live: LiveService,
  ) {}

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

  @Get('/<project_id:id>', { name: 'show' })
  @Template('project.html')
  async show(@Param('project_id') id: number, @Req() req: Request) {
    return this.page(req, await this.projects.get(id));
  }

  /**
   * A comment, from the project page's form: a login first (a visitor goes to log in and comes
   * back to the project), then the redirect to the comment with a flash message, or the page
   * again with a 422. The page's script posts the same form asking for JSON: it gets the
   * comment (201) or a 422 problem, and no flash message.
   */
  @Post('/<project_id:id>/comments', { name: 'comment' })
  async comment(req: Request) {
    const id = Number(req.params.project_id);
    const asJson = wantsJson(req);
    const user = asJson
      ? await apiUser(req)
      : await loginRequired(req, req.app.url('projects.show', { project_id: id }));
    const project = await this.projects.get(id);
    const { body, error } = validateComment(formObject(await req.form()).body);
    if (error !== null) {
      if (asJson) throw new HTTPUnprocessableEntity(error);
      return render(req, 'project.html', await this.page(req, project, { body, error }), {
        status: 422,
      });
    }
    const comment = commentView(req.app, await this.comments.add(project.id, user.id, body));
    await this.live.publish(project.id, { type: 'comment', comment });
    if (asJson) return json({ comment }, { status: 201 });
    flash(req, 'Your comment was added.', 'success');
    throw new HTTPFound(
      `${req.app.url('projects.show', { project_id: project.id })}#comment-${comment.id}`,
    );
  }

  @Get('/<project_id:id>/edit', { name: 'edit' })
  @Template('project_form.html')
  async edit(req: Request) {
    const project = await this.owned(req);
    return { project, values: project, errors: {} };
  }

  @Post('/<project_id:id>/edit', { name: 'update' })
  async update(req: Request) {
    const project = await this.owned(req);
    const { value, errors } = validateProject(formObject(await req.form()));
    if (errors.length > 0) return this.formAgain(req, project, value, errors);
    let updated;
    try {
      updated = await this.projects.update(project.id, value);
    } catch (e) {
      if (!(e instanceof HTTPConflict)) throw e;
      return this.formAgain(req, project, value, [{ path: 'slug', messages: [e.message] }], 409);
    }
    await this.live.publish(project.id, { type: 'project', project: projectFields(updated) });
    flash(req, 'Your changes were saved.', 'success');
    throw new HTTPFound(req.app.url('projects.show', { project_id: project.id }));
  }

  @Post('/<project_id:id>/delete', { name: 'delete' })
  async remove(req: Request) {
    const project = await this.owned(req);
    await this.projects.remove(project.id);
    await this.live.publish(project.id, { type: 'deleted' });
    flash(req, `Project “${project.name}” was deleted.`, 'success');
    throw new HTTPFound(req.app.url('projects.index'));
  }

  /**
   * The project of the path, for its owner: a visitor is sent to log in (and back to the
   * project), a missing project is a 404, someone else's a 403.
   */
  private async owned(req: Request): Promise<Project> {
    const id = Number(req.params.project_id);
    const user = await loginRequired(
      req,
      req.app.url(req.method === 'GET' ? 'projects.edit' : 'projects.show', { project_id: id }),
    );
    const project = await this.projects.get(id);
    mustOwn(user, project);
    return project;
  }

  /** The project page's context: the project, its comments, and the comment form (empty, or as typed with why it was refused). */
  private async page(
    req: Request,
    project: Project,
    comment: { body: string; error: string | null } = { body: '', error: null },
  ) {
    const [user, comments] = await Promise.all([currentUser(req), this.comments.list(project.id)]);
    return {
      project,
      canChange: canChange(user, project),
      comments: comments.map((c) => commentView(req.app, c)),
      comment,
      commentMax: COMMENT_MAX,
    };
  }

  /** The form again, with what was typed and why it was refused (422 or 409, as the API says). */
  private formAgain(
    req: Request,
    project: Project | null,
    values: ProjectInput,
    errors: FieldError[],
    status = 422,
  ) {
    return render(
      req,
      'project_form.html',
      { project, values, errors: errorsByField(errors) },
      { status },
    );
  }
}
