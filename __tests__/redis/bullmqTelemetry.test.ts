// OpenTelemetry over a BullMQ outbox on a real redis-server: the worker's delivery spans link to the request span that queued the grade (its traceparent sealed in the job), client spans per LTIAAS call, the outcome counters, and the outbox gauges from stats().
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { JobCipher } from '../../src/outbox/jobCipher';
import { startOutboxWorker } from '../../src/redis';
import { startTelemetrySdk, type RecordedPoint, type TelemetrySdk } from '../helpers/telemetrySdk';
import { API_KEY, ENCRYPTION_KEY, startBullmqHarness, until, type BullmqHarness } from './bullmqHarness';
import { startRedisServer, type RedisTestServer } from './redisServer';

const GRADE_SPAN = 'ltiaas.grade.submit';
const SCORES = 'POST /api/lineitems/{id}/scores';
const lab = { label: 'Lab', scoreMaximum: 10 };

let server: RedisTestServer;
let sdk: TelemetrySdk;
let harness: BullmqHarness;

beforeAll(async () => {
  sdk = startTelemetrySdk();
  server = await startRedisServer();
});
afterAll(async () => {
  await server?.stop();
  await sdk.close();
});
beforeEach(async () => {
  // First a fresh meter provider, then the grades instances that record into it.
  await sdk.reset();
  harness = await startBullmqHarness(server);
});
afterEach(async () => {
  await harness.close();
});

const gradeSpans = () => sdk.spans().filter((span) => span.name === GRADE_SPAN);
const deliverySpans = () => gradeSpans().filter((span) => span.attributes['ltiaas.grade.from_outbox'] === true);
const childrenOf = (parent: ReadableSpan) => sdk.spans().filter((span) => span.parentSpanContext?.spanId === parent.spanContext().spanId);
const linksOf = (span: ReadableSpan) => span.links.map((link) => [link.context.traceId, link.context.spanId]);
const contextOf = (span: ReadableSpan) => [span.spanContext().traceId, span.spanContext().spanId];

async function pointsOf(name: string): Promise<RecordedPoint[]> {
  return (await sdk.collect()).get(name)?.points ?? [];
}

/** The value of the one point whose attributes include `attributes` (NaN when several match). */
function valueAt(points: RecordedPoint[], attributes: Record<string, unknown>): number | undefined {
  const matching = points.filter((point) => Object.entries(attributes).every(([key, value]) => point.attributes[key] === value));
  return matching.length === 1 ? matching[0]!.value : matching.length === 0 ? undefined : NaN;
}

/** Everything a span or metric could leak through: names, attributes, status, events and links. */
function everythingRecorded(points: RecordedPoint[][]): string {
  const spans = sdk.spans().map((span) => ({ name: span.name, attributes: span.attributes, status: span.status, events: span.events, links: span.links }));
  return JSON.stringify({ spans, points });
}

/** Submits inside an app's own request span, as an instrumented Express route would; resolves the outcome and that span. */
async function inRequestSpan<T>(submit: () => Promise<T>): Promise<{ outcome: T; appSpan: ReadableSpan }> {
  let spanId = '';
  const outcome = await trace.getTracer('the-app').startActiveSpan('POST /quiz/1/finish', async (span) => {
    spanId = span.spanContext().spanId;
    try {
      return await submit();
    } finally {
      span.end();
    }
  });
  return { outcome, appSpan: sdk.spans().find((span) => span.spanContext().spanId === spanId)! };
}

describe('OpenTelemetry over a BullMQ outbox', () => {
  it('links each attempt of the worker\'s delivery to the request span that queued the grade, with a client span per LTIAAS call, and counts the outcomes', async () => {
    const { grades, outbox } = harness.instance();
    const student = harness.emulator.launch({ user: { id: 'student-7c1e' }, lineItem: lab });
    // The request's POST and the worker's first attempt fail; the second attempt goes through.
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 502, times: 2 });
    const { outcome, appSpan } = await inRequestSpan(() => grades.forLaunch(student.ltik).submit({ scoreGiven: 5, scoreMaximum: 10 }));
    expect(outcome).toMatchObject({ status: 'queued' });
    const id = (outcome as { id: string }).id;
    const request = gradeSpans().find((span) => span.attributes['ltiaas.grade.from_outbox'] === false)!;
    expect(request.parentSpanContext?.spanId).toBe(appSpan.spanContext().spanId);
    expect(request.attributes).toEqual({
      'ltiaas.grade.from_outbox': false,
      'ltiaas.grade.outcome': 'queued',
      'error.type': 'LTIAAS_UNAVAILABLE',
      'ltiaas.upstream.status_code': 502,
      'ltiaas.outbox.job.id': id,
    });
    expect(childrenOf(request).map((span) => [span.name, span.attributes['http.response.status_code']])).toEqual([
      ['GET /api/idtoken', 200],
      [SCORES, 502],
    ]);

    expect(await outbox.drain(20_000)).toBe(true);
    expect(harness.emulator.scores(student.lineItemId!, 'student-7c1e').map((score) => score.scoreGiven)).toEqual([5]);
    await until(() => deliverySpans().some((span) => span.attributes['ltiaas.grade.outcome'] === 'submitted'), 10_000, 'the delivery span');
    const attempts = deliverySpans();
    expect(attempts.map((span) => [span.attributes['ltiaas.grade.outcome'], span.attributes['ltiaas.outbox.job.attempt'], span.attributes['ltiaas.outbox.job.id']])).toEqual([
      ['pending', 1, id],
      ['submitted', 2, id],
    ]);
    expect(attempts[0]!.attributes).toMatchObject({ 'error.type': 'LTIAAS_UNAVAILABLE', 'ltiaas.upstream.status_code': 502 });
    for (const attempt of attempts) {
      // Its own trace, linked to the request that queued the grade.
      expect(attempt.kind).toBe(SpanKind.INTERNAL);
      expect(attempt.parentSpanContext).toBeUndefined();
      expect(attempt.spanContext().traceId).not.toBe(request.spanContext().traceId);
      expect(linksOf(attempt)).toEqual([contextOf(request)]);
    }
    const calls = attempts.map((attempt) => childrenOf(attempt).map((span) => [span.name, span.kind, span.attributes['http.response.status_code'], span.attributes['error.type'], span.status.code]));
    expect(calls).toEqual([
      [[SCORES, SpanKind.CLIENT, 502, '502', SpanStatusCode.ERROR]],
      [[SCORES, SpanKind.CLIENT, 204, undefined, SpanStatusCode.UNSET]],
    ]);
    for (const attempt of attempts) {
      for (const call of childrenOf(attempt)) {
        expect(call.spanContext().traceId).toBe(attempt.spanContext().traceId);
        expect(call.attributes).toMatchObject({ 'http.request.method': 'POST', 'url.template': '/api/lineitems/{id}/scores', 'server.address': '127.0.0.1', 'server.port': harness.emulator.port });
      }
    }

    // The delivery is counted once BullMQ reports the job completed.
    await until(async () => valueAt(await pointsOf('ltiaas.grades'), { 'ltiaas.grade.outcome': 'submitted', 'ltiaas.grade.from_outbox': true }) === 1, 10_000, 'the delivery counted');
    const counted = await pointsOf('ltiaas.grades');
    expect(valueAt(counted, { 'ltiaas.grade.outcome': 'queued', 'error.type': 'LTIAAS_UNAVAILABLE', 'ltiaas.grade.from_outbox': false })).toBe(1);
    expect(counted).toHaveLength(2);
    const duration = await pointsOf('ltiaas.client.request.duration');
    expect(valueAt(duration, { 'url.template': '/api/lineitems/{id}/scores', 'http.response.status_code': 502, 'error.type': '502' })).toBe(2);
    expect(valueAt(duration, { 'url.template': '/api/lineitems/{id}/scores', 'http.response.status_code': 204 })).toBe(1);

    const recorded = everythingRecorded([counted, duration]);
    for (const secret of [API_KEY, ENCRYPTION_KEY, student.ltik, student.serviceKey!]) expect(recorded).not.toContain(secret);
    // No user id without telemetry: { userIds: true }.
    expect(recorded).not.toContain('student-7c1e');
    expect(recorded).not.toMatch(/https?:\/\//);
  });

  it('marks a grade the LMS refuses when the worker delivers it rejected, linked to its request, and counts it from the outbox', async () => {
    const { grades, outbox } = harness.instance();
    const student = harness.emulator.launch({ user: { id: 'learner' }, lineItem: lab });
    const teacher = harness.emulator.launch({ user: { id: 'teacher' }, role: 'instructor', lineItem: student.lineItemId! });
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503, times: 1 });
    const { outcome } = await inRequestSpan(() => grades.forLaunch(teacher.ltik).submit({ scoreGiven: 2, scoreMaximum: 10 }));
    expect(outcome).toMatchObject({ status: 'queued' });
    const request = gradeSpans().find((span) => span.attributes['ltiaas.grade.from_outbox'] === false)!;

    await until(async () => (await outbox.failed()).length === 1, 20_000, 'the refused grade on the failed list');
    await until(() => deliverySpans().length === 1, 10_000, 'the delivery span');
    const [delivery] = deliverySpans();
    expect(delivery!.attributes).toMatchObject({ 'ltiaas.grade.outcome': 'rejected', 'error.type': 'LTIAAS_REJECTED', 'ltiaas.upstream.status_code': 422, 'ltiaas.outbox.job.attempt': 1 });
    expect(delivery!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'LTIAAS_REJECTED' });
    expect(linksOf(delivery!)).toEqual([contextOf(request)]);

    await until(async () => valueAt(await pointsOf('ltiaas.grades'), { 'ltiaas.grade.outcome': 'rejected', 'ltiaas.grade.from_outbox': true }) === 1, 10_000, 'the refusal counted');
    const counted = await pointsOf('ltiaas.grades');
    expect(valueAt(counted, { 'ltiaas.grade.outcome': 'rejected', 'error.type': 'LTIAAS_REJECTED', 'ltiaas.grade.from_outbox': true })).toBe(1);
    expect(valueAt(counted, { 'ltiaas.grade.outcome': 'queued', 'ltiaas.grade.from_outbox': false })).toBe(1);
    const recorded = everythingRecorded([counted]);
    expect(recorded).not.toContain('Incorrect score received');
    for (const secret of [API_KEY, ENCRYPTION_KEY, teacher.ltik, teacher.serviceKey!]) expect(recorded).not.toContain(secret);
  });

  it('counts a grade the outbox gives up on after maxAgeMs as failed from the outbox', async () => {
    const { grades, outbox } = harness.instance({ maxAgeMs: 1000 });
    const student = harness.emulator.launch({ user: { id: 'too-old' }, lineItem: lab });
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503, times: Infinity });
    expect((await grades.forLaunch(student.ltik).submit({ scoreGiven: 1, scoreMaximum: 10 })).status).toBe('queued');
    await until(async () => (await outbox.failed()).length === 1, 20_000, 'the grade given up');
    await until(async () => valueAt(await pointsOf('ltiaas.grades'), { 'ltiaas.grade.outcome': 'failed', 'ltiaas.grade.from_outbox': true }) === 1, 10_000, 'the give-up counted');
    expect(valueAt(await pointsOf('ltiaas.grades'), { 'ltiaas.grade.outcome': 'failed', 'error.type': 'LTIAAS_UNAVAILABLE', 'ltiaas.grade.from_outbox': true })).toBe(1);
  });

  it('links the delivery made by a worker started apart (startOutboxWorker, web instance at worker: false) to the web request\'s span, through the traceparent sealed in the job', async () => {
    const web = harness.instance({ worker: false });
    const worker = harness.instance({ worker: false });
    const delivered: Array<[string, boolean]> = [];
    web.grades.on('submitted', (event) => delivered.push(['web', event.fromOutbox]));
    worker.grades.on('submitted', (event) => delivered.push(['worker', event.fromOutbox]));
    const student = harness.emulator.launch({ user: { id: 'apart' }, lineItem: lab });
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503, times: 1 });
    const { outcome } = await inRequestSpan(() => web.grades.forLaunch(student.ltik).submit({ scoreGiven: 3, scoreMaximum: 10 }));
    expect(outcome).toMatchObject({ status: 'queued' });
    const id = (outcome as { id: string }).id;
    const request = gradeSpans().find((span) => span.attributes['ltiaas.grade.from_outbox'] === false)!;

    // The job carries the request span's context inside its sealed data, not in clear.
    const raw = (await server.client().hget(`bull:${harness.queueName}:${id}`, 'data'))!;
    expect(raw).not.toContain(request.spanContext().traceId);
    const job = new JobCipher(ENCRYPTION_KEY).open((JSON.parse(raw) as { sealed: string }).sealed, id) as { grade: { traceparent?: string } };
    expect(job.grade.traceparent).toBe(`00-${request.spanContext().traceId}-${request.spanContext().spanId}-01`);

    await startOutboxWorker(worker.outbox);
    expect(await web.outbox.drain(20_000)).toBe(true);
    expect(harness.emulator.scores(student.lineItemId!, 'apart')).toHaveLength(1);
    await until(() => delivered.length === 1 && deliverySpans().length === 1, 10_000, 'the delivery reported');
    expect(delivered).toEqual([['worker', true]]);
    const [delivery] = deliverySpans();
    expect(delivery!.attributes).toMatchObject({ 'ltiaas.grade.outcome': 'submitted', 'ltiaas.outbox.job.id': id, 'ltiaas.outbox.job.attempt': 1 });
    expect(delivery!.parentSpanContext).toBeUndefined();
    expect(linksOf(delivery!)).toEqual([contextOf(request)]);
    expect(childrenOf(delivery!).map((span) => [span.name, span.attributes['http.response.status_code']])).toEqual([[SCORES, 204]]);
  });

  it('reports the outbox gauges from the BullMQ outbox\'s stats(): the whole queue\'s pending, oldest pending age and failed', async () => {
    // A grade refused while another instance delivered: on the queue's failed list.
    const deliverer = harness.instance();
    const student = harness.emulator.launch({ user: { id: 'learner' }, lineItem: lab });
    const teacher = harness.emulator.launch({ user: { id: 'teacher' }, role: 'instructor', lineItem: student.lineItemId! });
    harness.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503, times: 1 });
    expect((await deliverer.grades.forLaunch(teacher.ltik).submit({ scoreGiven: 1, scoreMaximum: 10 })).status).toBe('queued');
    await until(async () => (await deliverer.outbox.failed()).length === 1, 20_000, 'the refused grade');
    await deliverer.grades.close();

    // Two grades held while LTIAAS is unreachable, on an instance that does not deliver.
    const web = harness.instance({ worker: false });
    const stats = jest.spyOn(web.outbox, 'stats');
    const lists = [jest.spyOn(web.outbox, 'pending'), jest.spyOn(web.outbox, 'failed')];
    const other = harness.emulator.launch({ user: { id: 'learner-2' }, lineItem: student.lineItemId! });
    await harness.emulator.unreachable();
    for (const launch of [student, other]) expect((await web.grades.forLaunch(launch.ltik).submit({ scoreGiven: 6, scoreMaximum: 10 })).status).toBe('queued');
    const [oldest] = await web.outbox.pending();
    lists.forEach((list) => list.mockClear());

    const before = Date.now();
    const metrics = await sdk.collect();
    const after = Date.now();
    expect(metrics.get('ltiaas.outbox.pending')!.points).toEqual([{ attributes: {}, value: 2 }]);
    expect(metrics.get('ltiaas.outbox.failed')!.points).toEqual([{ attributes: {}, value: 1 }]);
    const [age] = metrics.get('ltiaas.outbox.oldest_pending_age')!.points;
    expect(age!.attributes).toEqual({});
    expect(age!.value).toBeGreaterThanOrEqual((before - Date.parse(oldest!.createdAt)) / 1000);
    expect(age!.value).toBeLessThanOrEqual((after - Date.parse(oldest!.createdAt)) / 1000);
    // Counted by stats(), once per collection, without listing the grades.
    expect(stats).toHaveBeenCalledTimes(1);
    for (const list of lists) expect(list).not.toHaveBeenCalled();

    await web.grades.close();
    await sdk.collect();
    expect(stats).toHaveBeenCalledTimes(1);
  });
});
