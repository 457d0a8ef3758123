/**
 * Vitest's v8 coverage provider, plus the code of src/ that runs outside the test processes.
 *
 * Vitest measures only the processes it runs tests in. Much of kvm-clone runs elsewhere
 * during the integration tests:
 *
 * - the CLI: tests run the real binary (`bin/kvm-clone`), which loads the compiled `dist/`;
 * - workflow code: the Temporal SDK bundles `src/workflows` with webpack and runs the bundle
 *   in a `vm` context inside a worker thread of the test process.
 *
 * Node writes the V8 coverage of every process and worker thread started with
 * `NODE_V8_COVERAGE` set to a directory. The runtime part of this module sets it in each test
 * process when coverage is on (so test processes pass it on to the children and workflow
 * threads they start, and only those write files), and the provider then maps that coverage
 * back to `src/`: `dist/*.js` through tsc's source maps, the workflow bundle through the
 * inline source map webpack puts into it (global-setup writes the bundle to a file, which
 * is the script's URL). Code run through tsx in a child process (test/helpers/worker-process.ts)
 * is not mapped: its transformed code is nowhere on disk; every line it runs also runs in-process.
 *
 * Merging is by line: a statement of Vitest's own map for a file counts as run if a child
 * process or workflow thread ran a statement that starts on the same line of the same file
 * (functions likewise by their declaration line). So the lines total stays Vitest's, and the
 * lines and statements figures cover all of it. Branch counts stay in-process only.
 *
 * The raw files go to coverage/.processes and are removed after the report, unless
 * KVM_CLONE_KEEP_PROCESS_COVERAGE is set.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Profiler } from 'node:inspector';
import v8Module from '@vitest/coverage-v8';
import { V8CoverageProvider } from '@vitest/coverage-v8/dist/provider.js';
import type { CoverageProviderModule, ReportContext, Vitest } from 'vitest/node';

/** Set by the provider in the main process; the runtime part copies it to NODE_V8_COVERAGE in each test process. */
const DIRECTORY_ENV = 'KVM_CLONE_PROCESS_COVERAGE_DIR';

interface ProcessCov {
  result: Profiler.ScriptCoverage[];
}
// The copy @vitest/coverage-v8 itself merges with (a dependency of it, not of kvm-clone).
const requireFromProvider = createRequire(createRequire(import.meta.url).resolve('@vitest/coverage-v8'));
const { mergeProcessCovs } = requireFromProvider('@bcoe/v8-coverage') as {
  mergeProcessCovs(processCovs: ProcessCov[]): ProcessCov;
};

interface SourceMap {
  version: number;
  sources: string[];
  mappings: string;
  names: string[];
  file?: string;
  sourceRoot?: string;
  sourcesContent?: (string | null)[];
}
interface Location {
  start: { line: number };
}
interface FileCoverageData {
  statementMap: Record<string, Location>;
  s: Record<string, number>;
  fnMap: Record<string, { decl: Location }>;
  f: Record<string, number>;
}
interface CoverageMapLike {
  files(): string[];
  fileCoverageFor(file: string): { data: FileCoverageData };
}

type RemapCoverage = (
  url: string,
  wrapperLength: number,
  source: { code: string; map: SourceMap },
  functions: Profiler.FunctionCoverage[],
) => Promise<Record<string, FileCoverageData>>;

/** Lines (1-based) of one source file on which something ran outside the test processes. */
interface RunLines {
  statements: Set<number>;
  functions: Set<number>;
}

class ProcessCoverageProvider extends V8CoverageProvider {
  private directory = '';

  override initialize(ctx: Vitest): void {
    super.initialize(ctx);
    this.directory = path.join(this.options.reportsDirectory, '.processes');
    // Before the pool starts, so every test process inherits it.
    process.env[DIRECTORY_ENV] = this.directory;
  }

  override async clean(clean = true): Promise<void> {
    await super.clean(clean);
    await rm(this.directory, { recursive: true, force: true });
    await mkdir(this.directory, { recursive: true });
  }

  override async generateCoverage(
    context: ReportContext,
  ): Promise<ReturnType<V8CoverageProvider['createCoverageMap']>> {
    const coverageMap = await super.generateCoverage(context);
    const started = performance.now();
    const { scripts, dumps, unmapped } = await this.readProcessCoverage();
    const runLines = new Map<string, RunLines>();
    for (const script of scripts) {
      for (const [file, data] of Object.entries(await this.toIstanbul(script))) {
        if (!this.isIncluded(file)) continue;
        const lines = runLines.get(file) ?? { statements: new Set<number>(), functions: new Set<number>() };
        runLines.set(file, lines);
        for (const [id, location] of Object.entries(data.statementMap))
          if ((data.s[id] ?? 0) > 0) lines.statements.add(location.start.line);
        for (const [id, fn] of Object.entries(data.fnMap))
          if ((data.f[id] ?? 0) > 0) lines.functions.add(fn.decl.start.line);
      }
    }
    const credited = creditRunLines(coverageMap as unknown as CoverageMapLike, runLines);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    this.ctx.logger.log(
      `Coverage outside the test processes: ${dumps} child processes and workflow threads, ${scripts.length} scripts mapped to src/, ${credited} more statements run (${seconds} s)` +
        (unmapped.length ? `; not mapped: ${unmapped.join(', ')}` : ''),
    );
    if (!process.env.KVM_CLONE_KEEP_PROCESS_COVERAGE) await rm(this.directory, { recursive: true, force: true });
    return coverageMap;
  }

  /** The raw coverage files, reduced to the scripts that map to src/ and merged per script. */
  private async readProcessCoverage(): Promise<{
    scripts: Profiler.ScriptCoverage[];
    dumps: number;
    unmapped: string[];
  }> {
    const root = this.ctx.config.root;
    const distPrefix = pathToFileURL(path.join(root, 'dist')).href + '/';
    const bundlePrefix = pathToFileURL(path.join(root, '.cache/test/workflow-bundle-')).href;
    const srcPrefix = pathToFileURL(path.join(root, 'src')).href + '/';
    const names = existsSync(this.directory)
      ? (await readdir(this.directory)).filter((name) => name.endsWith('.json'))
      : [];
    const kept: ProcessCov[] = [];
    const unmapped = new Set<string>();
    for (const name of names) {
      const dump = JSON.parse(await readFile(path.join(this.directory, name), 'utf8')) as ProcessCov;
      const result = dump.result.filter(
        (script) =>
          (script.url.startsWith(distPrefix) && script.url.endsWith('.js')) || script.url.startsWith(bundlePrefix),
      );
      if (result.length) kept.push({ result });
      for (const script of dump.result)
        if (script.url.startsWith(srcPrefix)) unmapped.add(`${path.relative(root, fileURLToPath(script.url))} (tsx)`);
    }
    const merged = kept.length ? mergeProcessCovs(kept).result : [];
    return {
      scripts: merged,
      dumps: names.length,
      unmapped: unmapped.size > 10 ? [...[...unmapped].slice(0, 10), '…'] : [...unmapped],
    };
  }

  /** One script's coverage as Istanbul data keyed by the original source files. */
  private async toIstanbul(script: Profiler.ScriptCoverage): Promise<Record<string, FileCoverageData>> {
    const file = fileURLToPath(script.url);
    if (!existsSync(file)) {
      this.ctx.logger.warn(`coverage: ${file} is gone, its coverage is not counted`);
      return {};
    }
    const code = await readFile(file, 'utf8');
    const sourceMap = await this.sourceMapOf(file, code);
    if (!sourceMap) return {};
    // The provider's own conversion (ast-v8-to-istanbul), as for the test processes' scripts.
    const remap = (this as unknown as { remapCoverage: RemapCoverage }).remapCoverage.bind(this);
    return remap(script.url, 0, { code, map: sourceMap }, script.functions);
  }

  /**
   * The source map of a dist/ file (tsc writes it beside) or of the workflow bundle (inline),
   * with its sources as file URLs. A dist/ file older than one of its sources is stale (src/
   * changed since the last build) and its coverage is not counted.
   */
  private async sourceMapOf(file: string, code: string): Promise<SourceMap | undefined> {
    const reference = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(code)?.[1];
    if (!reference) {
      this.ctx.logger.warn(`coverage: ${file} has no source map, its coverage is not counted`);
      return undefined;
    }
    const inline = /^data:application\/json;(?:charset=utf-8;)?base64,(.*)$/.exec(reference);
    const mapFile = inline ? file : path.resolve(path.dirname(file), reference);
    const sourceMap = JSON.parse(
      inline ? Buffer.from(inline[1]!, 'base64').toString('utf8') : await readFile(mapFile, 'utf8'),
    ) as SourceMap;
    const base = pathToFileURL(path.join(path.dirname(mapFile), sourceMap.sourceRoot ?? '', '/')).href;
    sourceMap.sources = sourceMap.sources.map((source) =>
      path.isAbsolute(source) ? pathToFileURL(source).href : new URL(source, base).href,
    );
    delete sourceMap.sourceRoot;
    if (!inline) {
      const built = (await stat(file)).mtimeMs;
      for (const source of sourceMap.sources) {
        const sourceFile = fileURLToPath(source);
        if (existsSync(sourceFile) && (await stat(sourceFile)).mtimeMs > built) {
          this.ctx.logger.warn(
            `coverage: ${path.relative(this.ctx.config.root, file)} is older than ${path.relative(this.ctx.config.root, sourceFile)} (run npm run build); its coverage is not counted`,
          );
          return undefined;
        }
      }
    }
    return sourceMap;
  }
}

/** Marks Vitest's statements and functions as run where a line of them ran elsewhere; returns how many statements that added. */
function creditRunLines(coverageMap: CoverageMapLike, runLines: Map<string, RunLines>): number {
  let credited = 0;
  for (const file of coverageMap.files()) {
    const lines = runLines.get(file);
    if (!lines) continue;
    const { data } = coverageMap.fileCoverageFor(file);
    for (const [id, location] of Object.entries(data.statementMap)) {
      if (data.s[id] === 0 && lines.statements.has(location.start.line)) {
        data.s[id] = 1;
        credited += 1;
      }
    }
    for (const [id, fn] of Object.entries(data.fnMap))
      if (data.f[id] === 0 && lines.functions.has(fn.decl.start.line)) data.f[id] = 1;
  }
  return credited;
}

const processCoverageModule: CoverageProviderModule = {
  ...v8Module,
  startCoverage(options) {
    // Children and worker threads started from here on write their V8 coverage there.
    const directory = process.env[DIRECTORY_ENV];
    if (directory) process.env.NODE_V8_COVERAGE = directory;
    return v8Module.startCoverage?.(options);
  },
  getProvider() {
    return new ProcessCoverageProvider();
  },
};

export default processCoverageModule;
