import { checkOptions, readSetting } from '../core/options';
import { RococoError } from '../core/errors';
import type { Plugin } from '../core/plugin';
import { Database, DATABASE_OPTION_KEYS, type DatabaseOptions } from './database';
import { migrate } from './migrations';

declare module '../core/application' {
  interface Application {
    /** The database engine, when the `database` plugin is installed. */
    readonly database?: Database;
  }
}

/**
 * The database engine (aiopg's role): a pg pool from `url` or `settings.DATABASE_URL`,
 * injectable as `Database` and published as `app.database`. Startup checks the server (failing at
 * once with host, port and database, never the password) and, with `migrate: true`, applies
 * `migrations`, before the app's own startup hooks; the pool closes after the app's cleanup.
 *
 * @example
 * createApp({ controllers, plugins: [database({ migrations: join(__dirname, 'migrations'), migrate: true })] });
 */
export function database(options: DatabaseOptions = {}): Plugin {
  checkOptions('database', options, DATABASE_OPTION_KEYS);
  if (options.migrate && options.migrations === undefined)
    throw new RococoError(
      'ROCOCO_DATABASE',
      'database(): migrate is true but migrations (a folder) is not set',
    );
  return {
    name: 'database',
    setup(app) {
      const url = options.url ?? readSetting(app.settings, 'DATABASE_URL', 'string', '');
      if (url === '')
        throw new RococoError(
          'ROCOCO_DATABASE',
          'database(): no url, and settings.DATABASE_URL is not set',
        );
      const db = Database.create({ ...options, url }, app.log);
      app.container.register(Database, { useValue: db });
      app.decorate('database', db);
      app.on('startup', async () => {
        await db.check();
        if (options.migrate && options.migrations !== undefined) {
          const applied = await migrate(db, options.migrations);
          if (applied.length > 0) app.log.info({ applied }, 'migrations applied');
        }
      });
      app.on('cleanup', () => db.close());
    },
  };
}
