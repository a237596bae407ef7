import {
  Controller,
  HTTPNotFound,
  Request,
  Use,
  WebSocket,
  type Middleware,
  type WebSocketConnection,
} from '../../src';
import { CommentsService, commentView } from './comments.service';
import { LiveService, projectFields, type LiveEvent } from './live.service';
import { ProjectsService } from './projects.service';

/**
 * Refuses the handshake of an unknown project with a 404: middlewares run before the upgrade,
 * whereas the handler only runs once the socket is open (and could only close it).
 */
const projectExists: Middleware = async (req, next) => {
  await req.app.container.resolve(ProjectsService).get(Number(req.params.project_id));
  return next();
};

/** `?since=<comment id>`: the last comment the page has, or null. */
function since(req: Request): number | null {
  const value = req.query.get('since');
  return value !== null && /^\d{1,9}$/.test(value) ? Number(value) : null;
}

/**
 * The live side of a project page (sample/static/js/live.js connects to it): the project's
 * events as JSON, `{ type: 'comment', comment }`, `{ type: 'project', project }`,
 * `{ type: 'deleted' }` (then the socket closes with 1000), and `{ type: 'viewers', count }`
 * whenever a page of the project opens or closes. The page sends nothing; what it sends is
 * ignored.
 *
 * With `?since=<id of the page's last comment>`, once subscribed the socket first sends the
 * project as it is now and the comments after that one: what the page missed between being
 * rendered (or losing its connection) and this socket. The page ignores comments it already has.
 */
@Controller('/projects', { name: 'projects' })
export class LiveController {
  constructor(
    private readonly live: LiveService,
    private readonly projects: ProjectsService,
    private readonly comments: CommentsService,
  ) {}

  @WebSocket('/<project_id:id>/live', { name: 'live' })
  @Use(projectExists)
  async stream(ws: WebSocketConnection, req: Request) {
    const id = Number(req.params.project_id);
    const leave = await this.live.join(id, (event: LiveEvent) => {
      void ws.sendJson(event);
      if (event.type === 'deleted') ws.close(1000, 'the project was deleted');
    });
    try {
      const after = since(req);
      if (after !== null) await this.catchUp(ws, req, id, after);
      for await (const _ of ws) {
        // Nothing to do: the page only listens.
      }
    } finally {
      await leave();
    }
  }

  private async catchUp(
    ws: WebSocketConnection,
    req: Request,
    id: number,
    after: number,
  ): Promise<void> {
    let project;
    try {
      project = await this.projects.get(id);
    } catch (e) {
      if (!(e instanceof HTTPNotFound)) throw e;
      await ws.sendJson({ type: 'deleted' });
      ws.close(1000, 'the project was deleted');
      return;
    }
    await ws.sendJson({ type: 'project', project: projectFields(project) });
    for (const c of await this.comments.after(id, after))
      await ws.sendJson({ type: 'comment', comment: commentView(req.app, c) });
  }
}
