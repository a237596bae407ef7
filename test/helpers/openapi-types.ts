import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import ts from 'typescript';

/**
 * Typed clients of an OpenAPI document: openapi-typescript generates the types, the project's
 * TypeScript checks programs written against them (strict) and compiles them to CommonJS.
 */

/** The TypeScript that openapi-typescript generates for `document` (its `paths`, `components`, `operations`). */
export function generateTypes(document: unknown): string {
  try {
    return execFileSync(process.execPath, [join(__dirname, 'openapi-typescript.mjs')], {
      input: JSON.stringify(document),
      stdio: 'pipe',
      timeout: 30_000,
    }).toString('utf8');
  } catch (e) {
    const stderr = (e as { stderr?: Buffer }).stderr?.toString('utf8') ?? '';
    throw new Error(
      `openapi-typescript failed on the document: ${(e as Error).message}\n${stderr}`,
      { cause: e },
    );
  }
}

/** A type error, with its line (1-based) and that line's text. */
export interface TypeError {
  file: string;
  line: number;
  code: number;
  message: string;
  text: string;
}

/** What a strict compilation of some files gave. */
export interface Compilation {
  /** Errors by file name (relative to the folder); every file has an entry. */
  errors: Map<string, TypeError[]>;
}

/**
 * Type-checks `files` (names in `dir`) together under `strict`, as CommonJS for Node 20 with
 * node16 resolution (so `openapi-fetch` resolves as a package of `dir/node_modules`), and writes
 * the JavaScript of `emit` next to them (also when it has errors: running it is a check of its own).
 */
export function compile(dir: string, files: string[], emit: string[] = []): Compilation {
  const options: ts.CompilerOptions = {
    strict: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.Node16,
    moduleResolution: ts.ModuleResolutionKind.Node16,
    lib: ['lib.es2022.d.ts'],
    types: ['node'],
    esModuleInterop: true,
    skipLibCheck: true,
    rootDir: dir,
    outDir: dir,
  };
  const program = ts.createProgram(
    files.map((f) => join(dir, f)),
    options,
  );
  const errors = new Map<string, TypeError[]>(files.map((f) => [f, []]));
  const global = ts.getPreEmitDiagnostics(program).filter((d) => d.file === undefined);
  if (global.length)
    throw new Error(
      `TypeScript options: ${global.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')).join('; ')}`,
    );
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const file = d.file!;
    const name = file.fileName.startsWith(dir)
      ? file.fileName.slice(dir.length + 1)
      : file.fileName;
    const { line } = file.getLineAndCharacterOfPosition(d.start ?? 0);
    const text = file.text.split('\n')[line].trim();
    const list = errors.get(name) ?? [];
    list.push({
      file: name,
      line: line + 1,
      code: d.code,
      message: ts.flattenDiagnosticMessageText(d.messageText, ' '),
      text,
    });
    errors.set(name, list);
  }
  for (const f of emit) program.emit(program.getSourceFile(join(dir, f)));
  return { errors };
}

/** `misuse.ts:12 TS2322 Type 'string' is not assignable... | the line`, one per error. */
export function describeErrors(errors: readonly TypeError[]): string {
  return errors
    .map((e) => `${e.file}:${e.line} TS${e.code} ${e.message}\n    ${e.text}`)
    .join('\n');
}
