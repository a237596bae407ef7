import { Database, HTTPConflict, HTTPNotFound, Injectable, sql } from '../../src';
import type { ProjectInput } from './project-input';

/** A project of the tracker, with its owner's name when it has one. */
export interface Project {
  id: number;
  name: string;
  slug: string;
  description: string;
  owner_id: number | null;
  owner_name: string | null;
  created_at: Date;
}

const SELECT = sql`
  SELECT p.id, p.name, p.slug, p.description, p.owner_id, u.display_name AS owner_name, p.created_at
  FROM projects p LEFT JOIN users u ON u.id = p.owner_id`;

/** The projects table. A missing project is a 404 (`NoRowsError`) wherever it is asked for. */
@Injectable()
export class ProjectsService {
  constructor(private readonly db: Database) {}

  list(): Promise<Project[]> {
    return this.db.query<Project>(sql`${SELECT} ORDER BY p.id`);
  }

  byOwner(userId: number): Promise<Project[]> {
    return this.db.query<Project>(sql`${SELECT} WHERE p.owner_id = ${userId} ORDER BY p.id`);
  }

  search(text: string): Promise<Project[]> {
    const like = '%' + text.replace(/[\\%_]/g, '\\$&') + '%';
    return this.db.query<Project>(
      sql`${SELECT} WHERE p.name ILIKE ${like} OR p.description ILIKE ${like} ORDER BY p.id`,
    );
  }

  async get(id: number): Promise<Project> {
    // Ids come from the routes' `id` converter, within the column's range (sample/app.ts).
    const project = await this.db.maybeOne<Project>(sql`${SELECT} WHERE p.id = ${id}`);
    if (project === null) throw new HTTPNotFound(`There is no project ${id}.`);
    return project;
  }

  async add(input: ProjectInput, ownerId: number | null = null): Promise<Project> {
    const { id } = await this.unique(input.slug, () =>
      this.db.one<{ id: number }>(sql`
        INSERT INTO projects (name, slug, description, owner_id)
        VALUES (${input.name}, ${input.slug}, ${input.description}, ${ownerId}) RETURNING id`),
    );
    return this.get(id);
  }

  async update(id: number, input: ProjectInput): Promise<Project> {
    await this.unique(input.slug, () =>
      this.db.query(sql`
        UPDATE projects SET name = ${input.name}, slug = ${input.slug}, description = ${input.description}
        WHERE id = ${id}`),
    );
    return this.get(id);
  }

  async remove(id: number): Promise<void> {
    const deleted = await this.db.query(sql`DELETE FROM projects WHERE id = ${id} RETURNING id`);
    if (deleted.length === 0) throw new HTTPNotFound(`There is no project ${id}.`);
  }

  /** A taken slug is the client's conflict (409), not a server error. */
  private async unique<T>(slug: string, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (e) {
      if ((e as { code?: string }).code === '23505')
        throw new HTTPConflict(`The slug “${slug}” is already taken.`);
      throw e;
    }
  }
}
