import { injectable } from 'tsyringe';
import { markInjectable, type Constructor } from '../core/container';

/**
 * Marks a service class for injection. It is built once per application, the first time a
 * controller or another service needs it, by the app's own container.
 *
 * @example
 * @Injectable()
 * class ProjectsService { constructor(private db: Database) {} }
 */
export function Injectable(): ClassDecorator {
  return (target) => {
    injectable()(target as unknown as Constructor);
    markInjectable(target as unknown as Constructor);
  };
}
