import { HTTPForbidden } from '../../src';
import type { User } from '../users/users.service';
import type { Project } from './projects.service';

/** Whether `user` may change `project`: only its owner may (a project without one, nobody). */
export function canChange(user: User | null, project: Project): boolean {
  return user !== null && project.owner_id === user.id;
}

/** A 403 unless `user` owns `project`. */
export function mustOwn(user: User, project: Project): void {
  if (!canChange(user, project))
    throw new HTTPForbidden(`Only the owner of “${project.name}” can change or delete it.`);
}
