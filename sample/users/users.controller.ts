import { Controller, Get, Param, Template } from '../../src';
import { ProjectsService } from '../projects/projects.service';
import { UsersService } from './users.service';

/** User profiles. */
@Controller('/users', { name: 'users' })
export class UsersController {
  constructor(
    private readonly users: UsersService,
    private readonly projects: ProjectsService,
  ) {}

  @Get('/<user_id:id>', { name: 'profile' })
  @Template('user.html')
  async profile(@Param('user_id') id: number) {
    const user = await this.users.get(id); // a missing user: HTTPNotFound, the 404 page
    return { user, projects: await this.projects.byOwner(id) };
  }
}
