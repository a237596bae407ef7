// Generates the TypeScript types of an OpenAPI document read from stdin with openapi-typescript
// (its Node API) and prints them. A separate process: openapi-typescript and its dependencies are
// ES modules, which jest's CommonJS runtime on Node 20 cannot load.
import openapiTS, { astToString, COMMENT_HEADER } from 'openapi-typescript';

let text = '';
process.stdin.setEncoding('utf8');
for await (const chunk of process.stdin) text += chunk;
const nodes = await openapiTS(JSON.parse(text), { silent: true });
process.stdout.write(COMMENT_HEADER + astToString(nodes));
