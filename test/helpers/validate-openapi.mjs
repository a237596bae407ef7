// Validates an OpenAPI document read from stdin against the official 3.x schemas and prints
// the validator's verdict as JSON. A separate process: the validator is an ES module, which
// jest's CommonJS runtime on Node 20 cannot load.
import { Validator } from '@seriousme/openapi-schema-validator';

let text = '';
process.stdin.setEncoding('utf8');
for await (const chunk of process.stdin) text += chunk;
const result = await new Validator().validate(JSON.parse(text));
process.stdout.write(JSON.stringify(result));
