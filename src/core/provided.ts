// Classes a plugin registers (Database, Hub): asked for without the plugin, they name it. A file
// of its own, without tsyringe, so that such a class can be loaded outside an app (a script).
const fromPlugins = new WeakMap<Function, string>();

/**
 * Says that a plugin registers `cls` in the app's container: a class that asks for it in an app
 * without that plugin stops startup naming the plugin to add (rather than failing to build it).
 *
 * @example
 * providedByPlugin(AuditLog, 'audit');
 */
export function providedByPlugin(cls: Function, plugin: string): void {
  fromPlugins.set(cls, plugin);
}

/** The plugin that provides `cls`, if one said so. */
export function pluginOf(cls: Function): string | undefined {
  return fromPlugins.get(cls);
}
