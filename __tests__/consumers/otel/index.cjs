// A CommonJS app with its own OpenTelemetry SDK: the package's CommonJS build records into it.
const { check } = require('./check.cjs');

check({
  api: require('@opentelemetry/api'),
  traceSdk: require('@opentelemetry/sdk-trace-base'),
  metricsSdk: require('@opentelemetry/sdk-metrics'),
  contextAsyncHooks: require('@opentelemetry/context-async-hooks'),
  grading: require('express-ltiaas-grades'),
  testing: require('express-ltiaas-grades/testing'),
}).then(
  () => console.log('consumer ok: otel cjs'),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
