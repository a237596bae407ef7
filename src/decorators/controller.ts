import { injectable } from 'tsyringe';
import type { Constructor } from '../core/container';
import { setControllerMeta } from '../core/metadata';
import { checkOptions } from './options';

/** Options of {@link Controller}. */
export interface ControllerOptions {
  /** Prefix of the names of this controller's routes: `projects` makes `projects.show`. */
  name?: string;
}

/**
 * Declares a class of handlers under a path prefix. The class is built once per application
 * by its container, so its constructor can ask for services and `@inject(SETTINGS)`.
 *
 * @example
 * @Controller('/projects', { name: 'projects' })
 * class ProjectsController {
 *   constructor(private projects: ProjectsService) {}
 *   @Get('/<id:\\d+>', { name: 'show' }) show(req: Request) { ... }
 * }
 */
export function Controller(prefix = '', options?: ControllerOptions): ClassDecorator {
  checkOptions('@Controller', options, ['name']);
  if (prefix !== '' && !prefix.startsWith('/'))
    throw new TypeError(`@Controller('${prefix}'): the prefix must start with '/'`);
  return (target) => {
    injectable()(target as unknown as Constructor);
    setControllerMeta(target, { prefix, name: options?.name });
  };
}
