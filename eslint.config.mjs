// ESLint with typescript-eslint's recommended rules, run by `npm test` (`npm run lint`).
// Layout is Prettier's (`npm run format`); eslint-config-prettier turns off the rules that
// would argue with it.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/',
      'node_modules/',
      'bench/node_modules/',
      'bench/dist/',
      'docs/api/',
      'coverage/',
      '.data/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  { languageOptions: { globals: { ...globals.node } } },
  {
    rules: {
      // `_`-prefixed names say "unused on purpose" (an ignored argument, a skipped item).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      // Optional packages are loaded where they are first needed (`require('nunjucks')` in the
      // templates plugin): an app that does not use a feature never loads its library.
      '@typescript-eslint/no-require-imports': 'off',
      // Classes are keys of metadata maps (`WeakMap<Function, ...>`): any class, whatever its constructor.
      '@typescript-eslint/no-unsafe-function-type': 'off',
      // Paths and headers are checked for NUL and control characters on purpose.
      'no-control-regex': 'off',
    },
  },
  // Scripts that run in the browser: the sample's pages, and what the browser tests evaluate there.
  {
    files: ['sample/static/**/*.js', 'test/*browser*.test.ts'],
    languageOptions: { globals: { ...globals.browser } },
  },
  // Tests poke at values the way a caller that ignores the types would.
  { files: ['test/**/*.ts'], rules: { '@typescript-eslint/no-explicit-any': 'off' } },
  prettier,
);
