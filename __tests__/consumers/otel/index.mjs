// An ES module app with its own OpenTelemetry SDK: the package's ES module build records into it.
import * as api from '@opentelemetry/api';
import * as traceSdk from '@opentelemetry/sdk-trace-base';
import * as metricsSdk from '@opentelemetry/sdk-metrics';
import * as contextAsyncHooks from '@opentelemetry/context-async-hooks';
import * as grading from 'express-ltiaas-grades';
import * as testing from 'express-ltiaas-grades/testing';
import checks from './check.cjs';

await checks.check({ api, traceSdk, metricsSdk, contextAsyncHooks, grading, testing });
console.log('consumer ok: otel esm');
