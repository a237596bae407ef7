import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/** The official validator's verdict on an OpenAPI document: `{ valid: true }` or its errors. */
export function validateOpenAPI(document: unknown): { valid: boolean; errors?: unknown } {
  const out = execFileSync(process.execPath, [join(__dirname, 'validate-openapi.mjs')], {
    input: JSON.stringify(document),
  });
  return JSON.parse(out.toString('utf8'));
}

/** @apidevtools/swagger-parser's verdict on an OpenAPI document: `{ valid: true, openapi }` or its error. */
export function swaggerParserVerdict(document: unknown): {
  valid: boolean;
  openapi?: string;
  error?: string;
} {
  const out = execFileSync(process.execPath, [join(__dirname, 'swagger-parser.mjs')], {
    input: JSON.stringify(document),
  });
  return JSON.parse(out.toString('utf8'));
}
