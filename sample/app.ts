import 'reflect-metadata';
import { Application, Controller, createApp, Get, Request } from '../src';
import { serverTiming } from './middlewares';
import { ProjectsController } from './projects/projects.controller';
import { loadSettings, type AppSettings } from './settings';

/** The landing route: where the API is. */
@Controller()
export class HomeController {
  @Get('/', { name: 'home' })
  home(req: Request) {
    return { name: 'rococo sample: a project tracker', api: req.app.url('api.index') };
  }
}

/** Builds the sample application; tests call it with settings of their own. */
export function createSampleApp(settings: AppSettings = loadSettings()): Application {
  return createApp({
    controllers: [HomeController, ProjectsController],
    settings,
    middlewares: [serverTiming],
  });
}
