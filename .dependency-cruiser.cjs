/**
 * The architecture, checked by `npm test` (`npm run arch`): see ARCHITECTURE.md.
 * - the kernel (src/core) imports no feature folder;
 * - decorators record into the kernel's metadata store and import nothing else of rococo;
 * - a feature imports the kernel, the decorators it builds and its own folder, and another
 *   feature only where declared below (type-only imports do not count: they vanish at build);
 * - no cycles between files, except type-only ones.
 */
const FEATURES = [
  'templates',
  'static',
  'schemas',
  'openapi',
  'websocket',
  'sessions',
  'database',
  'rate-limit',
  'security-headers',
  'compression',
  'cors',
  'tracing',
  'health',
  'metrics',
];

/** Which feature may import which other one, and why. */
const ALLOWED = {
  // The docs page serves swagger-ui-dist's files with the static plugin's StaticFiles class.
  openapi: ['static'],
  // A limit keyed by the session's user reads the session (getSession), and checks at startup
  // that the route goes through sessions().
  'rate-limit': ['sessions'],
};

module.exports = {
  forbidden: [
    {
      name: 'kernel-imports-no-feature',
      comment: 'src/core is the kernel: it knows no feature (ARCHITECTURE.md)',
      severity: 'error',
      from: { path: '^src/core/' },
      to: {
        path: `^src/(${[...FEATURES, 'decorators', 'cli'].join('|')})/`,
        dependencyTypesNot: ['type-only'],
      },
    },
    {
      name: 'decorators-only-record',
      comment:
        'a decorator records into the metadata store (src/core/metadata, plugin keys, options) and does nothing else',
      severity: 'error',
      from: { path: '^src/decorators/' },
      to: { path: `^src/(${[...FEATURES, 'cli'].join('|')})/`, dependencyTypesNot: ['type-only'] },
    },
    ...FEATURES.map((feature) => ({
      name: `${feature}-imports-no-other-feature`,
      comment: `src/${feature} imports the kernel and its decorators; another feature only where .dependency-cruiser.cjs allows it`,
      severity: 'error',
      from: { path: `^src/${feature}/` },
      to: {
        path: `^src/(${FEATURES.filter((f) => f !== feature && !(ALLOWED[feature] ?? []).includes(f)).join('|')})/`,
        dependencyTypesNot: ['type-only'],
      },
    })),
    {
      name: 'no-cycles',
      comment: 'files that import each other cannot be understood (or loaded) one at a time',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^(dist|node_modules)/' },
  },
};
