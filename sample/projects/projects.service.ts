import { HTTPConflict, HTTPNotFound, Injectable } from '../../src';

/** A project of the tracker. */
export interface Project {
  id: number;
  name: string;
  slug: string;
  description: string;
}

/** What a client may send to create or change a project. */
export type ProjectInput = Pick<Project, 'name' | 'slug'> & Partial<Pick<Project, 'description'>>;

/**
 * The projects store. In memory for now: the database issue moves it to PostgreSQL without
 * changing the controllers.
 */
@Injectable()
export class ProjectsService {
  private readonly projects = new Map<number, Project>();
  private nextId = 1;

  list(): Project[] {
    return [...this.projects.values()];
  }

  get(id: number): Project {
    const project = this.projects.get(id);
    if (project === undefined) throw new HTTPNotFound(`There is no project ${id}`);
    return project;
  }

  add(input: ProjectInput): Project {
    this.assertFreeSlug(input.slug);
    const project = { id: this.nextId++, description: '', ...input };
    this.projects.set(project.id, project);
    return project;
  }

  update(id: number, input: ProjectInput): Project {
    const project = this.get(id);
    if (input.slug !== project.slug) this.assertFreeSlug(input.slug);
    const updated = { ...project, description: '', ...input, id };
    this.projects.set(id, updated);
    return updated;
  }

  remove(id: number): void {
    this.get(id);
    this.projects.delete(id);
  }

  private assertFreeSlug(slug: string): void {
    for (const p of this.projects.values()) {
      if (p.slug === slug) throw new HTTPConflict(`The slug '${slug}' is taken by project ${p.id}`);
    }
  }
}
