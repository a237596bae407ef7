import { Application, Database, HTTPNotFound, Injectable, sql } from '../../src';

/** A comment on a project, with its author's name. */
export interface Comment {
  id: number;
  project_id: number;
  author_id: number;
  author_name: string;
  body: string;
  created_at: Date;
}

/**
 * A comment as pages show it, the same for the template and for the live page's script (which
 * gets it as JSON): the author's link built on the server, the time already written out.
 */
export interface CommentView {
  id: number;
  body: string;
  author: { id: number; name: string; url: string };
  /** ISO 8601, for `<time datetime>`. */
  created_at: string;
  /** What the page shows: `2026-05-04 13:07 UTC`. */
  created: string;
}

/** The longest comment, in characters (code points, as PostgreSQL's `length()` counts them). */
export const COMMENT_MAX = 1000;

const SELECT = sql`
  SELECT c.id, c.project_id, c.author_id, u.display_name AS author_name, c.body, c.created_at
  FROM comments c JOIN users u ON u.id = c.author_id`;

/** The comments table. */
@Injectable()
export class CommentsService {
  constructor(private readonly db: Database) {}

  /** A project's comments, oldest first. */
  list(projectId: number): Promise<Comment[]> {
    return this.db.query<Comment>(sql`${SELECT} WHERE c.project_id = ${projectId} ORDER BY c.id`);
  }

  /** The comments of a project after `sinceId`, oldest first, at most `limit`: what a page that reconnects missed. */
  after(projectId: number, sinceId: number, limit = 100): Promise<Comment[]> {
    return this.db.query<Comment>(
      sql`${SELECT} WHERE c.project_id = ${projectId} AND c.id > ${sinceId} ORDER BY c.id LIMIT ${limit}`,
    );
  }

  /** A new comment; a project deleted meanwhile is a 404. `body` must have passed {@link validateComment}. */
  async add(projectId: number, authorId: number, body: string): Promise<Comment> {
    try {
      return await this.db.one<Comment>(sql`
        WITH c AS (
          INSERT INTO comments (project_id, author_id, body) VALUES (${projectId}, ${authorId}, ${body})
          RETURNING id, project_id, author_id, body, created_at
        )
        SELECT c.id, c.project_id, c.author_id, u.display_name AS author_name, c.body, c.created_at
        FROM c JOIN users u ON u.id = c.author_id`);
    } catch (e) {
      if ((e as { code?: string }).code === '23503')
        throw new HTTPNotFound(`There is no project ${projectId}.`);
      throw e;
    }
  }
}

/**
 * Checks a comment as typed: line breaks as `\n` (forms send `\r\n`), control characters other
 * than line breaks and tabs dropped (PostgreSQL refuses NUL), trimmed; then 1 to
 * {@link COMMENT_MAX} characters. `body` is the cleaned text, to store or to show again.
 */
export function validateComment(raw: unknown): { body: string; error: string | null } {
  const body =
    typeof raw === 'string'
      ? raw
          .replace(/\r\n?/g, '\n')
          .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g, '')
          .trim()
      : '';
  const length = [...body].length;
  if (length === 0) return { body, error: 'Write something first: the comment is empty.' };
  if (length > COMMENT_MAX)
    return {
      body,
      error: `Keep the comment to ${COMMENT_MAX} characters (this one has ${length}).`,
    };
  return { body, error: null };
}

/** A comment as pages and live pages show it. */
export function commentView(app: Application, c: Comment): CommentView {
  const iso = c.created_at.toISOString();
  return {
    id: c.id,
    body: c.body,
    author: {
      id: c.author_id,
      name: c.author_name,
      url: app.url('users.profile', { user_id: c.author_id }),
    },
    created_at: iso,
    created: `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`,
  };
}
