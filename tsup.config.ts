// One build: CommonJS and ESM, with type declarations for both, for the main entry, /testing and /redis.
import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', testing: 'src/testing/index.ts', redis: 'src/redis/index.ts' },
  format: ['cjs', 'esm'],
  // `npm run demo` only needs the JavaScript; skipping declarations saves most of the build time.
  dts: process.env.npm_lifecycle_event !== 'demo',
  clean: true,
  target: 'node20',
  platform: 'node',
  sourcemap: false,
  splitting: false,
  treeshake: true,
  // Runtime dependencies and the peers (Express; ioredis and bullmq, which /redis imports only when a BullMQ outbox is made; @opentelemetry/api, loaded only if installed) stay imports, resolved in the user's app.
  external: ['express', 'axios', 'joi', 'ioredis', 'bullmq', '@opentelemetry/api'],
  // __filename in the ES module build, where telemetry/openTelemetryApi.ts makes its require (a CommonJS build has its own).
  shims: true,
  esbuildOptions(options, { format }) {
    // Tells telemetry/openTelemetryApi.ts whether it is in the ES module build, which has no require of its own.
    options.define = { ...options.define, __LTIAAS_GRADES_ESM_BUILD__: format === 'esm' ? 'true' : 'false' };
  },
});
