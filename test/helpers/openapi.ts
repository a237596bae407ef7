import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/** The official validator's verdict on an OpenAPI document: `{ valid: true }` or its errors. */
export function validateOpenAPI(document: unknown): { valid: boolean; errors?: unknown } {
  const out = execFileSync(process.execPath, [join(__dirname, 'validate-openapi.mjs')], { input: JSON.stringify(document) });
  return JSON.parse(out.toString('utf8'));
}
