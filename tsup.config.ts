import { defineConfig } from 'tsup';

// One entry per public subpath (DESIGN §1); keep in step with package.json "exports".
export default defineConfig({
  entry: {
    index: 'src/index.ts',
    testing: 'src/testing/index.ts',
    express: 'src/http/express.ts',
    fastify: 'src/http/fastify.ts',
    fetch: 'src/http/fetch.ts',
    otel: 'src/telemetry/otel.ts',
    prometheus: 'src/telemetry/prometheus.ts',
    sim: 'src/sim/index.ts',
    cli: 'src/sim/cli.ts',
  },
  // The CLI finds its own file (import.meta.url) to start tune's worker threads, in the CJS build too.
  shims: true,
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  treeshake: true,
});
