// The checks both apps run: the app registers an OpenTelemetry SDK, grades through the packed package, and finds the spans and metrics it recorded.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

/**
 * `modules` are the app's own copies, ES modules or CommonJS as the app loads them: the API and
 * SDK packages, and express-ltiaas-grades with its /testing subpath.
 */
async function check({ api, traceSdk, metricsSdk, contextAsyncHooks, grading, testing }) {
  // Registered before the factory runs, as an app's instrumentation file does.
  api.context.setGlobalContextManager(new contextAsyncHooks.AsyncLocalStorageContextManager().enable());
  const spans = new traceSdk.InMemorySpanExporter();
  api.trace.setGlobalTracerProvider(new traceSdk.BasicTracerProvider({ spanProcessors: [new traceSdk.SimpleSpanProcessor(spans)] }));
  const exporter = new metricsSdk.InMemoryMetricExporter(metricsSdk.AggregationTemporality.CUMULATIVE);
  const reader = new metricsSdk.PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 2 ** 31 - 1 });
  const meterProvider = new metricsSdk.MeterProvider({ readers: [reader] });
  api.metrics.setGlobalMeterProvider(meterProvider);

  const emulator = await testing.startEmulator();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'consumer-otel-'));
  const outbox = grading.fileOutbox({ dir, retry: { minDelayMs: 20, maxDelayMs: 50 } });
  const grades = grading.ltiaasGrades({ ltiaasUrl: emulator.url, apiKey: emulator.apiKey, outbox, retry: { retries: 0 } });
  const launch = emulator.launch({ user: { id: 'otel-student' }, lineItem: { label: 'Lab', scoreMaximum: 5 } });
  assert.equal((await grades.forLaunch(launch.ltik).submit({ scoreGiven: 4, scoreMaximum: 5 })).status, 'submitted');
  emulator.fail({ method: 'POST', path: /\/scores$/, status: 503 });
  assert.equal((await grades.forLaunch(launch.ltik).submit({ scoreGiven: 5, scoreMaximum: 5 })).status, 'queued');
  assert.equal(await outbox.drain(10000), true);

  const finished = spans.getFinishedSpans();
  const gradeSpans = finished.filter((span) => span.name === 'ltiaas.grade.submit');
  assert.deepEqual(gradeSpans.map((span) => span.attributes['ltiaas.grade.outcome']), ['submitted', 'queued', 'submitted']);
  const [direct, queued, delivered] = gradeSpans;
  const children = finished.filter((span) => span.parentSpanContext?.spanId === direct.spanContext().spanId).map((span) => span.name);
  assert.deepEqual(children, ['GET /api/idtoken', 'POST /api/lineitems/{id}/scores']);
  assert.deepEqual(delivered.links.map((link) => link.context.spanId), [queued.spanContext().spanId]);

  await reader.forceFlush();
  const names = exporter.getMetrics().flatMap((resource) => resource.scopeMetrics.filter((scope) => scope.scope.name === 'express-ltiaas-grades').flatMap((scope) => scope.metrics.map((metric) => metric.descriptor.name)));
  for (const name of ['ltiaas.grades', 'ltiaas.client.request.duration', 'ltiaas.outbox.pending', 'ltiaas.outbox.failed', 'ltiaas.outbox.oldest_pending_age']) assert.ok(names.includes(name), `${name} recorded`);

  await grades.close();
  await meterProvider.shutdown();
  await emulator.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

module.exports = { check };
