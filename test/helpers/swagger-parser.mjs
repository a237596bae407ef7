// Validates an OpenAPI document read from stdin with @apidevtools/swagger-parser (its schema
// check, then its own checks: $refs resolve, path parameters match the path, ids are unique) and
// prints `{ valid, openapi }` or `{ valid: false, error }`. A separate process: its $ref parser is
// an ES module, which jest's CommonJS runtime on Node 20 cannot load.
import SwaggerParser from '@apidevtools/swagger-parser';

let text = '';
process.stdin.setEncoding('utf8');
for await (const chunk of process.stdin) text += chunk;
try {
  const api = await SwaggerParser.validate(JSON.parse(text));
  process.stdout.write(JSON.stringify({ valid: true, openapi: api.openapi }));
} catch (e) {
  process.stdout.write(JSON.stringify({ valid: false, error: e.message }));
}
