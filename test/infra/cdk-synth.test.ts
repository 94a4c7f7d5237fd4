import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { processTempDir } from '../fixtures/temp-dir.ts';

/**
 * The path a user takes on a fresh clone: `npx cdk synth` through cdk.json (tsx, the example config,
 * cdk-nag as validation plugins) with real bundling by the local esbuild. Slow (about 15 s), so it runs once.
 */

const REPO = new URL('../..', import.meta.url).pathname;
/** The deployment package budget: the bundle stays small enough to cold-start fast and to read. */
const BUNDLE_BUDGET_BYTES = 1_000_000;

let outdir = '';
let result: ReturnType<typeof spawnSync>;
let assetDir = '';

describe('npx cdk synth on the ready app', { timeout: 180_000 }, () => {
  beforeAll(() => {
    outdir = processTempDir('chute-synth-');
    result = spawnSync(
      join(REPO, 'node_modules/.bin/cdk'),
      ['synth', '--no-notices', '--quiet', '-o', outdir],
      {
        cwd: REPO,
        encoding: 'utf8',
        timeout: 170_000,
        env: { ...process.env, CDK_DISABLE_VERSION_CHECK: '1' },
      },
    );
    if (result.status === 0) {
      const template = JSON.parse(readFileSync(join(outdir, 'Chute.template.json'), 'utf8')) as {
        Resources: Record<
          string,
          { Type: string; Properties: { Handler?: string; Code?: { S3Key?: string } } }
        >;
      };
      const fn = Object.values(template.Resources).find(
        (r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Handler === 'index.handler',
      );
      const hash = fn?.Properties.Code?.S3Key?.replace(/\.zip$/, '');
      assetDir = join(outdir, `asset.${hash}`);
    }
  }, 180_000);

  it('succeeds offline, cdk-nag included', () => {
    expect(result.error).toBeUndefined();
    expect(result.status, `${String(result.stdout)}\n${String(result.stderr)}`).toBe(0);
    expect(existsSync(join(outdir, 'Chute.template.json'))).toBe(true);
  });

  it('leaves cdk-nag nothing to report, and warns only that the example config holds placeholders', () => {
    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as {
      pluginReports: { pluginName: string; violations: { ruleName: string; severity: string }[] }[];
    };
    const findings = report.pluginReports.flatMap((p) =>
      p.violations.map((v) => `${p.pluginName} ${v.severity} ${v.ruleName}`),
    );
    expect(findings).toEqual(['Construct Annotations warning Annotation::@chute/placeholder-config']);
  });

  it('bundles the handler with the local esbuild: one minified ESM file with its source map', () => {
    const code = readFileSync(join(assetDir, 'index.mjs'), 'utf8');
    const lines = code.split('\n');
    // Minified: long lines (the few line breaks left are inside string literals, such as code zod
    // generates), and declarations written `var a=` rather than `var name = ` (those left are in literals).
    expect(code.length / lines.length).toBeGreaterThan(2_000);
    const compact = code.match(/\b(?:var|let|const) [\w$]+=/g)?.length ?? 0;
    const spaced = code.match(/\b(?:var|let|const) [\w$]+ = /g)?.length ?? 0;
    expect(compact).toBeGreaterThan(1_000);
    expect(spaced / compact).toBeLessThan(0.01);
    expect(lines.filter((l) => l !== '').at(-1)).toBe('//# sourceMappingURL=index.mjs.map');
    const map = JSON.parse(readFileSync(join(assetDir, 'index.mjs.map'), 'utf8')) as {
      version: number;
      sources: string[];
      sourcesContent?: unknown;
    };
    expect(map.version).toBe(3);
    expect(map.sources.some((s) => s.endsWith('functions/ingest/handler.ts'))).toBe(true);
    expect(map.sourcesContent).toBeUndefined();
  });

  it(`keeps the bundle within ${BUNDLE_BUDGET_BYTES} bytes`, () => {
    const bytes = statSync(join(assetDir, 'index.mjs')).size;
    expect(
      bytes,
      `index.mjs is ${bytes} bytes. If zod is the bulk, look for \`import { z } from 'zod'\`: it drags in every locale (about 260 KB); \`import * as z from 'zod'\` lets esbuild drop them.`,
    ).toBeLessThanOrEqual(BUNDLE_BUDGET_BYTES);
  });

  it('produces a module Node loads, exporting the handler', async () => {
    const module = (await import(pathToFileURL(join(assetDir, 'index.mjs')).href)) as { handler?: unknown };
    expect(typeof module.handler).toBe('function');
  });
});
