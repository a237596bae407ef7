import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * Prometheus' own parser of the text format (`promtool check metrics`, Debian's `prometheus`
 * package): without it a check is skipped on a laptop, and fails in CI (`.ci/run` installs it).
 */
export const PROMTOOL = '/usr/bin/promtool';

const hasPromtool = existsSync(PROMTOOL);

/** Lint findings of prom-client's default metrics, not ours: gauges it names `..._total`. */
const THEIRS = /^nodejs_active_(handles|requests|resources)_total non-counter metrics/;

let warned = false;

/**
 * Checks an exposition with `promtool check metrics`: a parse error fails, and so does any lint
 * finding (naming, units, help) except prom-client's own known ones.
 */
export function checkExposition(text: string): void {
  if (!hasPromtool) {
    if (process.env.CI)
      throw new Error(
        `CI is set but ${PROMTOOL} does not exist: apt-get install prometheus (.ci/run does)`,
      );
    if (!warned) console.warn(`${PROMTOOL} is missing: exposition not checked by promtool`);
    warned = true;
    return;
  }
  const run = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  const findings = `${run.stdout}${run.stderr}`
    .split('\n')
    .filter((l) => l.trim() !== '' && !THEIRS.test(l));
  // Exit 1: the text does not parse; 3: lint findings only (filtered above).
  if (run.status !== 0 && run.status !== 3) throw new Error(`promtool: ${findings.join('\n')}`);
  expect(findings).toEqual([]);
}

/** A sample of the exposition: name, labels and value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of an exposition (the lines that are not comments), for assertions. */
export function samples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]] = l[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the sample of `name` whose labels include `labels`; undefined when none. */
export function valueOf(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const hits = samples(text).filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  if (hits.length === 0) return undefined;
  return hits.reduce((sum, s) => sum + s.value, 0);
}
