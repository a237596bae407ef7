import { Type } from 'class-transformer';
import { IsArray, IsNumber, ValidateIf, ValidateNested } from 'class-validator';
import { Controller, createApp, Post, Request, Schema, schemas } from '../src';
import { testClient, type TestClient } from '../src/testing';

/**
 * `@IsNumber({ maxDecimalPlaces })` counts decimals in `String(value)`, which class-validator
 * splits on a point that `5e-324` does not have: a bad input must be a 422, never a 500, on the
 * compiled path and on class-validator's (a class with `@ValidateIf`), nested classes included.
 */

class Price {
  @IsNumber({ maxDecimalPlaces: 2 }) price!: number;
}

class Cart {
  @IsArray() @ValidateNested({ each: true }) @Type(() => Price) items!: Price[];
}

/** `@ValidateIf` keeps this class on class-validator's own path. */
class SlowPrice {
  @ValidateIf(() => true) @IsNumber({ maxDecimalPlaces: 2 }) price!: number;
}

@Controller('')
class Shop {
  @Post('/price')
  @Schema({ request: Price })
  price(req: Request<Price>) {
    return { price: req.data.price };
  }

  @Post('/cart')
  @Schema({ request: Cart })
  cart(req: Request<Cart>) {
    return { items: req.data.items.length };
  }

  @Post('/slow')
  @Schema({ request: SlowPrice })
  slow(req: Request<SlowPrice>) {
    return { price: req.data.price };
  }
}

let client: TestClient;
beforeAll(async () => {
  client = await testClient(createApp({ plugins: [schemas()], controllers: [Shop] }));
});
afterAll(() => client.close());

const MESSAGE = 'must be a number conforming to the specified constraints';

async function errors(
  path: string,
  body: unknown,
): Promise<{ path: string; messages: string[] }[]> {
  const res = await client.post(path, { json: body });
  expect(res.status).toBe(422);
  return ((await res.json()) as { errors: { path: string; messages: string[] }[] }).errors;
}

test.each([5e-324, 1e-7, -2.5e-10])(
  '%p is a 422 on the compiled path and on class-validator',
  async (n) => {
    expect(await errors('/price', { price: n })).toEqual([
      { path: 'price', messages: [`price ${MESSAGE}`] },
    ]);
    expect(await errors('/slow', { price: n })).toEqual([
      { path: 'price', messages: [`price ${MESSAGE}`] },
    ]);
    expect(await errors('/cart', { items: [{ price: 1.5 }, { price: n }] })).toEqual([
      { path: 'items[1].price', messages: [`price ${MESSAGE}`] },
    ]);
  },
);

test('numbers the rule can count keep their verdicts', async () => {
  for (const path of ['/price', '/slow']) {
    for (const n of [1.25, 3, 1e21, -0.5]) {
      const res = await client.post(path, { json: { price: n } });
      expect([path, n, res.status, await res.json()]).toEqual([path, n, 200, { price: n }]);
    }
    expect(await errors(path, { price: 1.255 })).toEqual([
      { path: 'price', messages: [`price ${MESSAGE}`] },
    ]);
  }
  const res = await client.post('/cart', { json: { items: [{ price: 0.1 }, { price: 2 }] } });
  expect([res.status, await res.json()]).toEqual([200, { items: 2 }]);
});
