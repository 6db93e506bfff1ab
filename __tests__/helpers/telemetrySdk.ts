// The OpenTelemetry SDK as an app registers it, recording into memory: spans through the in-memory span exporter, metrics through a reader collected on demand.
import { context, metrics, trace, type Attributes } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { AggregationTemporality, DataPointType, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';

/** The package's instrumentation scope: the SDK records metrics of its own, which are not looked at. */
const SCOPE = 'express-ltiaas-grades';

export interface RecordedPoint {
  attributes: Attributes;
  /** A counter's or gauge's value; a histogram's count. */
  value: number;
  /** A histogram's sum. */
  sum?: number;
}

export interface TelemetrySdk {
  /** Every span ended since the last reset, in the order they ended. */
  spans(): ReadableSpan[];
  /** The package's metrics as of now (collected on the spot), by name. */
  collect(): Promise<Map<string, { data: MetricData; points: RecordedPoint[] }>>;
  /** Forgets the spans, and starts a fresh meter provider: grades instances made after this record into it. */
  reset(): Promise<void>;
  close(): Promise<void>;
}

/** Never on its own: the tests collect when they want to look. */
const NEVER_MS = 2 ** 31 - 1;

function pointsOf(data: MetricData): RecordedPoint[] {
  if (data.dataPointType === DataPointType.HISTOGRAM) {
    return data.dataPoints.map((point) => ({ attributes: point.attributes, value: point.value.count, sum: point.value.sum }));
  }
  if (data.dataPointType === DataPointType.EXPONENTIAL_HISTOGRAM) return [];
  return data.dataPoints.map((point) => ({ attributes: point.attributes, value: point.value as number }));
}

/** Registers a tracer provider, a meter provider and the async context manager globally, as a Node SDK set-up does. */
export function startTelemetrySdk(): TelemetrySdk {
  const contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  const spanExporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spanExporter)] });
  trace.setGlobalTracerProvider(tracerProvider);

  let meter: { provider: MeterProvider; reader: PeriodicExportingMetricReader; exporter: InMemoryMetricExporter };
  const startMeter = () => {
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: NEVER_MS, exportTimeoutMillis: 30_000 });
    const provider = new MeterProvider({ readers: [reader] });
    metrics.setGlobalMeterProvider(provider);
    meter = { provider, reader, exporter };
  };
  startMeter();

  return {
    spans: () => spanExporter.getFinishedSpans(),
    async collect() {
      meter.exporter.reset();
      await meter.reader.forceFlush();
      const found = new Map<string, { data: MetricData; points: RecordedPoint[] }>();
      for (const resourceMetrics of meter.exporter.getMetrics()) {
        for (const scope of resourceMetrics.scopeMetrics) {
          if (scope.scope.name !== SCOPE) continue;
          for (const data of scope.metrics) found.set(data.descriptor.name, { data, points: pointsOf(data) });
        }
      }
      return found;
    },
    async reset() {
      spanExporter.reset();
      await meter.provider.shutdown();
      metrics.disable();
      startMeter();
    },
    async close() {
      await meter.provider.shutdown();
      await tracerProvider.shutdown();
      metrics.disable();
      trace.disable();
      context.disable();
      contextManager.disable();
    },
  };
}
