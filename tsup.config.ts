import { defineConfig } from 'tsup';
import { keepClassNames } from './scripts/keep-class-names.mjs';

// One entry per public subpath; keep in step with package.json "exports" (and api-report.txt).
export default defineConfig({
  entry: {
    index: 'src/index.ts',
    testing: 'src/testing/index.ts',
    express: 'src/http/express.ts',
    fastify: 'src/http/fastify.ts',
    fetch: 'src/http/fetch.ts',
    otel: 'src/telemetry/otel.ts',
    prometheus: 'src/telemetry/prometheus.ts',
    redis: 'src/redis/index.ts',
    sim: 'src/sim/index.ts',
    cli: 'src/sim/cli.ts',
  },
  // The CLI finds its own file (import.meta.url) to start tune's worker threads, in the CJS build too.
  shims: true,
  format: ['esm', 'cjs'],
  // `/** @internal */` members and declarations (the policy protocol, constructors that skip
  // validation) stay out of the published types.
  dts: { compilerOptions: { stripInternal: true } },
  clean: true,
  sourcemap: true,
  target: 'node20',
  treeshake: true,
  // Not esbuild's `keepNames`: see scripts/keep-class-names.mjs.
  plugins: [keepClassNames()],
});
