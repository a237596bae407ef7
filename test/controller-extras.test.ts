/**
 * recordOnController: a plugin's class decorator records once for all of a controller's routes
 * (inherited by subclasses, a subclass's own winning), the plugin reads it in route() as
 * `route.controllerValues(key)` (base first), and a key no installed plugin claims stops startup as a method's does.
 */
import {
  Controller,
  createApp,
  Get,
  metaKey,
  recordOnController,
  recordOnHandler,
  RococoError,
  type Plugin,
} from '../src';
import { testClient } from '../src/testing';

const TAG = metaKey('@Tag', 'tag');
const ClassTag = (tag: string): ClassDecorator => recordOnController(TAG, tag);
const MethodTag = (tag: string): MethodDecorator => recordOnHandler(TAG, tag);

/** Answers with the tag of the method, else of the controller, else 'none'. */
const tag: Plugin = {
  name: 'tag',
  route(route) {
    const value = route.meta.extras.get(TAG) ?? route.controllerValues(TAG).at(-1) ?? 'none';
    route.claim(TAG);
    route.handler = () => ({ tag: value });
  },
};

@ClassTag('base')
@Controller('/base')
class BaseController {
  @Get('/a') a() {}
  @MethodTag('own')
  @Get('/b')
  b() {}
}

@Controller('/inherits')
class InheritingController extends BaseController {}

@ClassTag('sub')
@Controller('/sub')
class SubController extends BaseController {}

@Controller('/plain')
class PlainController {
  @Get('/a') a() {}
}

describe('recordOnController', () => {
  test("a class's record reaches all its routes; a method's own wins; subclasses inherit", async () => {
    const client = await testClient(
      createApp({
        controllers: [BaseController, InheritingController, SubController, PlainController],
        plugins: [tag],
      }),
    );
    try {
      const tagOf = async (path: string) =>
        ((await (await client.get(path)).json()) as { tag: string }).tag;
      expect(await tagOf('/base/a')).toBe('base');
      expect(await tagOf('/base/b')).toBe('own');
      expect(await tagOf('/inherits/a')).toBe('base');
      expect(await tagOf('/sub/a')).toBe('sub');
      expect(await tagOf('/sub/b')).toBe('own');
      expect(await tagOf('/plain/a')).toBe('none');
    } finally {
      await client.close();
    }
  });

  test('a class decorator of a plugin that is not installed stops startup, naming it', () => {
    let err: unknown;
    try {
      createApp({ controllers: [InheritingController] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RococoError);
    expect(err).toMatchObject({ code: 'ROCOCO_PLUGIN' });
    expect((err as Error).message).toContain("@Tag needs the 'tag' plugin");
  });

  test('stacked class decorators all record: the base first, each class top to bottom', async () => {
    @ClassTag('base-1')
    @ClassTag('base-2')
    @Controller('/stacked-base')
    class StackedBase {
      @Get('/') all() {}
    }
    @ClassTag('sub-1')
    @ClassTag('sub-2')
    @Controller('/stacked-sub')
    class StackedSub extends StackedBase {}
    const all: Plugin = {
      name: 'tag',
      route(route) {
        const values = route.controllerValues(TAG);
        route.claim(TAG);
        route.handler = () => ({ values });
      },
    };
    const client = await testClient(
      createApp({ controllers: [StackedBase, StackedSub, PlainController], plugins: [all] }),
    );
    try {
      const valuesOf = async (path: string) =>
        ((await (await client.get(path)).json()) as { values: string[] }).values;
      expect(await valuesOf('/stacked-base/')).toEqual(['base-1', 'base-2']);
      expect(await valuesOf('/stacked-sub/')).toEqual(['base-1', 'base-2', 'sub-1', 'sub-2']);
      expect(await valuesOf('/plain/a')).toEqual([]);
    } finally {
      await client.close();
    }
  });
});
