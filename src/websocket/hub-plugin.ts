import { checkOptions, readSetting } from '../core/options';
import type { Plugin } from '../core/plugin';
import { Hub, HUB_OPTION_KEYS, type HubOptions } from './hub';

declare module '../core/application' {
  interface Application {
    /** Publish/subscribe across the app's WebSockets, workers and hosts, when the `hub` plugin is installed. */
    readonly hub?: Hub;
  }
}

/**
 * The app's {@link Hub}, injectable as `Hub` and published as `app.hub`: in one process, or
 * through Redis when `redis` (or the `REDIS_URL` setting) is set, so that a message published in
 * one worker or host reaches subscribers in all of them. Closed after the app's cleanup hooks.
 *
 * @example
 * createApp({ controllers, plugins: [websockets(), hub({ prefix: 'tracker:hub:' })] });
 */
export function hub(options: HubOptions = {}): Plugin {
  checkOptions('hub', options, HUB_OPTION_KEYS);
  return {
    name: 'hub',
    setup(app) {
      const instance = new Hub(app.log, {
        ...options,
        redis: options.redis ?? readSetting(app.settings, 'REDIS_URL', 'string', ''),
      });
      app.container.register(Hub, { useValue: instance });
      app.decorate('hub', instance);
      app.on('cleanup', () => instance.close());
    },
  };
}
