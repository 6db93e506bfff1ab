// A span context as a W3C traceparent and back: kept with a queued grade so that its later delivery links to the request that queued it.
import type { SpanContext } from '@opentelemetry/api';
import type { OpenTelemetryApi } from './openTelemetryApi';

/** `00-<trace id>-<span id>-<flags>`, lower-case hex, version 00 (the one this writes). */
export const TRACEPARENT_PATTERN = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The traceparent of a valid span context; undefined for the invalid one a non-recording API hands out. */
export function traceparentOf(context: SpanContext, api: OpenTelemetryApi): string | undefined {
  if (!api.trace.isSpanContextValid(context)) return undefined;
  return `00-${context.traceId}-${context.spanId}-${(context.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/** The remote span context a traceparent names, or undefined when it is not one (an all-zero id included). */
export function linkContextOf(traceparent: string, api: OpenTelemetryApi): SpanContext | undefined {
  const match = TRACEPARENT_PATTERN.exec(traceparent);
  if (!match) return undefined;
  const context: SpanContext = { traceId: match[1]!, spanId: match[2]!, traceFlags: Number.parseInt(match[3]!, 16), isRemote: true };
  return api.trace.isSpanContextValid(context) ? context : undefined;
}
