import {
  container as rootContainer,
  Lifecycle,
  type DependencyContainer,
  type InjectionToken,
} from 'tsyringe';
import { RococoError } from './errors';
import { pluginOf } from './provided';

/** The token of the application's settings: `@inject(SETTINGS) settings: AppSettings`. */
export const SETTINGS: InjectionToken<unknown> = Symbol('rococo.settings');

/** A class that can be constructed by the container. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any class, whatever its constructor takes
export type Constructor<T = unknown> = new (...args: any[]) => T;

/**
 * An extra registration for `createApp({ providers })`: a class (a singleton of the app), or a
 * token with a value, a class, a factory, or another token to alias.
 */
export type Provider =
  | Constructor
  | { provide: InjectionToken<unknown>; useValue: unknown }
  | { provide: InjectionToken<unknown>; useClass: Constructor }
  | { provide: InjectionToken<unknown>; useFactory: (c: DependencyContainer) => unknown }
  | { provide: InjectionToken<unknown>; useExisting: InjectionToken<unknown> };

// tsyringe records @inject() tokens under this key (reflection-helpers.ts in tsyringe).
const INJECTION_TOKENS = 'injectionTokens';
// Every @Injectable() class. Each app registers all of them as its own singletons, so a service
// is one instance per app however it is reached: a constructor, a factory, container.resolve().
const injectables = new Set<Constructor>();

/** Records a class as `@Injectable()`. */
export function markInjectable(cls: Constructor): void {
  injectables.add(cls);
}

const NOT_INJECTABLE = new Set<unknown>([
  Object,
  String,
  Number,
  Boolean,
  Array,
  Function,
  Promise,
  Symbol,
  undefined,
]);

/**
 * The app's own child container: its settings, the app itself, and every class the
 * controllers depend on as a singleton of this app. Two apps in one process share nothing,
 * and the global container is never written to.
 */
export function createAppContainer(
  values: [InjectionToken<unknown>, unknown][],
): DependencyContainer {
  const child = rootContainer.createChildContainer();
  for (const [token, value] of values) child.register(token, { useValue: value });
  for (const cls of injectables) child.registerSingleton(cls);
  return child;
}

/** Registers `createApp({ providers })`, after the plugins': an app's own provider wins. */
export function registerProviders(
  child: DependencyContainer,
  providers: readonly Provider[],
): void {
  for (const p of providers) {
    if (typeof p === 'function') {
      registerClass(child, p, `providers: ${p.name}`);
      continue;
    }
    if (p === null || typeof p !== 'object' || !('provide' in p)) {
      throw new RococoError(
        'ROCOCO_PROVIDER',
        `providers: ${String(p)} is neither a class nor { provide, useValue | useClass | useFactory | useExisting }`,
      );
    }
    if ('useValue' in p) child.register(p.provide, { useValue: p.useValue });
    else if ('useClass' in p) {
      child.register(p.provide, { useClass: p.useClass }, { lifecycle: Lifecycle.Singleton });
      registerDeps(child, p.useClass, `providers: ${tokenName(p.provide)} -> ${p.useClass.name}`);
    } else if ('useFactory' in p) child.register(p.provide, { useFactory: p.useFactory });
    else if ('useExisting' in p) child.register(p.provide, { useToken: p.useExisting });
    else
      throw new RococoError(
        'ROCOCO_PROVIDER',
        `providers: ${tokenName((p as { provide: InjectionToken<unknown> }).provide)} needs useValue, useClass, useFactory or useExisting`,
      );
  }
}

/**
 * Registers a class and, recursively, the classes its constructor asks for, as app singletons,
 * and checks that each parameter has something to inject. `chain` names the path that led
 * here (`ProjectsController -> ProjectsService`), for the error message.
 */
export function registerClass(
  c: DependencyContainer,
  cls: Constructor,
  chain: string,
  seen = new Set<Constructor>(),
): void {
  if (seen.has(cls)) return;
  seen.add(cls);
  if (c.isRegistered(cls, false) && !injectables.has(cls)) return; // provided some other way
  const plugin = pluginOf(cls);
  if (plugin !== undefined)
    throw new RococoError(
      'ROCOCO_PLUGIN',
      `${chain}: ${cls.name} comes from the '${plugin}' plugin: add it to createApp({ plugins })`,
    );
  if (!c.isRegistered(cls, false)) c.registerSingleton(cls);
  registerDeps(c, cls, chain, seen);
}

function registerDeps(
  c: DependencyContainer,
  cls: Constructor,
  chain: string,
  seen = new Set<Constructor>(),
): void {
  const types: unknown[] | undefined = Reflect.getMetadata('design:paramtypes', cls);
  const tokens: Record<number, unknown> = Reflect.getOwnMetadata(INJECTION_TOKENS, cls) ?? {};
  if (types === undefined && cls.length > 0) {
    throw new RococoError(
      'ROCOCO_DI',
      `${chain}: ${cls.name} takes constructor parameters but has no @Injectable() (or @Controller()), so their types are unknown`,
    );
  }
  (types ?? []).forEach((type, i) => {
    const token = tokens[i] ?? type;
    if (typeof token === 'object' && token !== null) return; // injectAll()/delay(): tsyringe's own forms
    if (typeof token === 'function' && !NOT_INJECTABLE.has(token)) {
      registerClass(c, token as Constructor, `${chain} -> ${token.name}`, seen);
      return;
    }
    if (NOT_INJECTABLE.has(token)) {
      throw new RococoError(
        'ROCOCO_DI',
        `${chain}: parameter ${i} of ${cls.name}'s constructor has no class to inject (an interface, a primitive or a type alias): give it @inject(TOKEN)`,
      );
    }
  });
}

function tokenName(token: InjectionToken<unknown>): string {
  return typeof token === 'function' ? token.name : String(token);
}
