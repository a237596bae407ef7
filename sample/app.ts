import 'reflect-metadata';
import { join } from 'node:path';
import { Application, createApp } from '../src';
import { errorPages, serverTiming } from './middlewares';
import { PagesController } from './pages/pages.controller';
import { ApiController } from './projects/api.controller';
import { ProjectsController } from './projects/projects.controller';
import { SAMPLE_DIR } from './paths';
import { loadSettings, type AppSettings } from './settings';
import { UsersController } from './users/users.controller';

/**
 * Builds the project tracker. `settings.DATABASE_URL` must point at PostgreSQL: `main.ts` sets
 * it (an embedded server when the environment has none), tests give their own.
 */
export function createSampleApp(settings: AppSettings = loadSettings()): Application {
  return createApp({
    controllers: [PagesController, ProjectsController, UsersController, ApiController],
    settings,
    middlewares: [serverTiming, errorPages],
    database: { migrations: join(SAMPLE_DIR, 'migrations'), migrate: true },
    templates: { dir: join(SAMPLE_DIR, 'templates') },
    static: [{ prefix: '/static', dir: join(SAMPLE_DIR, 'static') }],
    openapi: { title: 'Rococo Tracker API', version: '1.0.0', description: 'Projects of the rococo sample, as JSON.', prefix: '/api' },
  });
}
