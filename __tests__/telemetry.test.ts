// OpenTelemetry with the SDK's in-memory exporter and reader: a span per grade with client spans per LTIAAS attempt, links across the outbox, the counters, the duration histogram and the outbox gauges, and no secret anywhere.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { fileOutbox, ltiaasClient, ltiaasGrades, type GradeOutbox, type Outbox } from 'express-ltiaas-grades';
import { API_KEY, startHarness, type Harness } from './helpers/harness';
import { startTelemetrySdk, type RecordedPoint, type TelemetrySdk } from './helpers/telemetrySdk';

const GRADE_SPAN = 'ltiaas.grade.submit';
const TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/;

let sdk: TelemetrySdk;
let harness: Harness | undefined;
let dir: string | undefined;

beforeAll(() => {
  sdk = startTelemetrySdk();
});
afterAll(async () => {
  await sdk.close();
});
beforeEach(async () => {
  await sdk.reset();
});
afterEach(async () => {
  await harness?.close();
  harness = undefined;
  // Only ever a folder this test made with mkdtemp.
  if (dir) await fs.rm(dir, { recursive: true, force: true });
  dir = undefined;
});

async function outboxIn(): Promise<GradeOutbox> {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'telemetry-'));
  return fileOutbox({ dir, retry: { minDelayMs: 20, maxDelayMs: 50 } });
}

/** Only the methods of the Outbox interface, as a hand-written outbox would have them (no stats()). */
function listsOnly(outbox: GradeOutbox): Outbox {
  return {
    connect: (worker) => outbox.connect(worker),
    enqueue: (grade, reason) => outbox.enqueue(grade, reason),
    wake: () => outbox.wake(),
    pending: () => outbox.pending(),
    failed: () => outbox.failed(),
    requeue: (id) => outbox.requeue(id),
    discard: (id) => outbox.discard(id),
    close: () => outbox.close(),
  };
}

const gradeSpans = () => sdk.spans().filter((span) => span.name === GRADE_SPAN);
const clientSpans = () => sdk.spans().filter((span) => span.kind === SpanKind.CLIENT);
const childrenOf = (parent: ReadableSpan) => sdk.spans().filter((span) => span.parentSpanContext?.spanId === parent.spanContext().spanId);
const idOf = (span: ReadableSpan) => span.spanContext().spanId;

/** Everything a span or metric could leak through: names, attributes, status, events and links. */
function everythingRecorded(points: RecordedPoint[][]): string {
  const spans = sdk.spans().map((span) => ({ name: span.name, attributes: span.attributes, status: span.status, events: span.events, links: span.links }));
  return JSON.stringify({ spans, points });
}

async function pointsOf(name: string): Promise<RecordedPoint[]> {
  return (await sdk.collect()).get(name)?.points ?? [];
}

/** The value of the one point whose attributes include `attributes`. */
function valueAt(points: RecordedPoint[], attributes: Record<string, unknown>): number | undefined {
  const matching = points.filter((point) => Object.entries(attributes).every(([key, value]) => point.attributes[key] === value));
  return matching.length === 1 ? matching[0]!.value : matching.length === 0 ? undefined : NaN;
}

describe('OpenTelemetry', () => {
  it('records a grade as a span inside the app\'s own span, with a client span per LTIAAS call, counts it, and times each call by template and status', async () => {
    const h = await startHarness();
    harness = h;
    const student = h.emulator.launch({ user: { id: 'traced' }, context: { id: 'otel-course' } });

    await trace.getTracer('the-app').startActiveSpan('POST /quiz/1/finish', async (appSpan) => {
      await h.grades.forLaunch(student.ltik).submit({ scoreGiven: 3, scoreMaximum: 4 }, { lineItem: { resourceId: 'quiz-1', label: 'Quiz 1', scoreMaximum: 4 } });
      appSpan.end();
    });

    const [grade] = gradeSpans();
    const appSpan = sdk.spans().find((span) => span.name === 'POST /quiz/1/finish')!;
    expect(gradeSpans()).toHaveLength(1);
    expect(grade!.kind).toBe(SpanKind.INTERNAL);
    expect(grade!.parentSpanContext?.spanId).toBe(idOf(appSpan));
    expect(grade!.instrumentationScope.name).toBe('express-ltiaas-grades');
    expect(grade!.attributes).toEqual({ 'ltiaas.grade.from_outbox': false, 'ltiaas.grade.outcome': 'submitted' });
    expect(grade!.status.code).toBe(SpanStatusCode.UNSET);

    const calls = childrenOf(grade!);
    expect(calls.map((span) => span.name)).toEqual(['GET /api/idtoken', 'GET /api/lineitems', 'POST /api/lineitems', 'POST /api/lineitems/{id}/scores']);
    expect(clientSpans()).toEqual(calls);
    for (const call of calls) {
      expect(call.kind).toBe(SpanKind.CLIENT);
      expect(call.spanContext().traceId).toBe(appSpan.spanContext().traceId);
    }
    expect(calls.map((span) => span.attributes)).toEqual([
      { 'http.request.method': 'GET', 'url.template': '/api/idtoken', 'server.address': '127.0.0.1', 'server.port': h.emulator.port, 'http.response.status_code': 200 },
      { 'http.request.method': 'GET', 'url.template': '/api/lineitems', 'server.address': '127.0.0.1', 'server.port': h.emulator.port, 'http.response.status_code': 200 },
      { 'http.request.method': 'POST', 'url.template': '/api/lineitems', 'server.address': '127.0.0.1', 'server.port': h.emulator.port, 'http.response.status_code': 201 },
      { 'http.request.method': 'POST', 'url.template': '/api/lineitems/{id}/scores', 'server.address': '127.0.0.1', 'server.port': h.emulator.port, 'http.response.status_code': 204 },
    ]);

    const metrics = await sdk.collect();
    const grades = metrics.get('ltiaas.grades')!;
    expect(grades.data.descriptor.unit).toBe('{grade}');
    expect(grades.points).toEqual([{ attributes: { 'ltiaas.grade.outcome': 'submitted', 'ltiaas.grade.from_outbox': false }, value: 1 }]);
    const duration = metrics.get('ltiaas.client.request.duration')!;
    expect(duration.data.descriptor.unit).toBe('s');
    expect(valueAt(duration.points, { 'url.template': '/api/lineitems/{id}/scores', 'http.request.method': 'POST', 'http.response.status_code': 204 })).toBe(1);
    expect(valueAt(duration.points, { 'url.template': '/api/idtoken', 'http.response.status_code': 200 })).toBe(1);
    // Seconds, not milliseconds: four loopback calls take well under a minute.
    expect(duration.points.reduce((total, point) => total + point.sum!, 0)).toBeLessThan(60);

    const recorded = everythingRecorded([grades.points, duration.points]);
    for (const secret of [API_KEY, student.ltik, student.serviceKey!]) expect(recorded).not.toContain(secret);
    // No user or column id without the opt-in, and no URL at all (a column id is an LMS URL with a query).
    expect(recorded).not.toContain('traced');
    expect(recorded).not.toMatch(/https?:\/\//);
    expect(recorded).not.toMatch(/LTIK-AUTH|SERVICE-AUTH/);
  });

  it('makes a client span per attempt: the failed one with its status as error.type, the resend with http.request.resend_count', async () => {
    const h = await startHarness({ retry: { retries: 2, minDelayMs: 1, maxDelayMs: 5 } });
    harness = h;
    const student = h.emulator.launch({ user: { id: 'retried' }, lineItem: { label: 'Lab', scoreMaximum: 10 } });
    h.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503 });

    await expect(h.grades.forLaunch(student.ltik).submit({ scoreGiven: 7, scoreMaximum: 10 })).resolves.toMatchObject({ status: 'submitted' });

    const [grade] = gradeSpans();
    const posts = childrenOf(grade!).filter((span) => span.name === 'POST /api/lineitems/{id}/scores');
    expect(posts.map((span) => [span.attributes['http.response.status_code'], span.attributes['error.type'], span.attributes['http.request.resend_count'], span.status.code])).toEqual([
      [503, '503', undefined, SpanStatusCode.ERROR],
      [204, undefined, 1, SpanStatusCode.UNSET],
    ]);
    expect(grade!.attributes['ltiaas.grade.outcome']).toBe('submitted');
    const duration = await pointsOf('ltiaas.client.request.duration');
    expect(valueAt(duration, { 'url.template': '/api/lineitems/{id}/scores', 'http.response.status_code': 503, 'error.type': '503' })).toBe(1);
    expect(valueAt(duration, { 'url.template': '/api/lineitems/{id}/scores', 'http.response.status_code': 204 })).toBe(1);
    const recorded = everythingRecorded([duration]);
    for (const secret of [API_KEY, student.ltik, student.serviceKey!]) expect(recorded).not.toContain(secret);
    expect(recorded).not.toMatch(/https?:\/\//);
  });

  it('links the outbox\'s delivery of a queued grade to the span of the request that queued it, through the traceparent stored with the grade', async () => {
    const outbox = await outboxIn();
    const h = await startHarness({ outbox });
    harness = h;
    const student = h.emulator.launch({ user: { id: 'queued' }, lineItem: { label: 'Lab', scoreMaximum: 10 } });
    h.emulator.fail({ method: 'POST', path: /\/scores$/, status: 502 });

    const queued = await h.grades.forLaunch(student.ltik).submit({ scoreGiven: 5, scoreMaximum: 10 });
    expect(queued).toMatchObject({ status: 'queued' });
    const id = (queued as { id: string }).id;
    const [request] = gradeSpans();
    expect(request!.attributes).toEqual({
      'ltiaas.grade.from_outbox': false,
      'ltiaas.grade.outcome': 'queued',
      'error.type': 'LTIAAS_UNAVAILABLE',
      'ltiaas.upstream.status_code': 502,
      'ltiaas.outbox.job.id': id,
    });
    // The job file carries the request span's context, and no other trace field.
    const job = JSON.parse(await fs.readFile(path.join(dir!, 'pending', `${id}.json`), 'utf8')) as { grade: { traceparent?: string } };
    expect(job.grade.traceparent).toMatch(TRACEPARENT);
    expect(job.grade.traceparent).toBe(`00-${request!.spanContext().traceId}-${idOf(request!)}-01`);

    expect(await outbox.drain(10_000)).toBe(true);
    const delivery = gradeSpans().find((span) => span.attributes['ltiaas.grade.from_outbox'] === true)!;
    expect(delivery.parentSpanContext).toBeUndefined();
    expect(delivery.spanContext().traceId).not.toBe(request!.spanContext().traceId);
    expect(delivery.links.map((link) => [link.context.traceId, link.context.spanId])).toEqual([[request!.spanContext().traceId, idOf(request!)]]);
    expect(delivery.attributes).toEqual({
      'ltiaas.grade.from_outbox': true,
      'ltiaas.grade.outcome': 'submitted',
      'ltiaas.outbox.job.id': id,
      'ltiaas.outbox.job.attempt': 1,
    });
    expect(childrenOf(delivery).map((span) => span.name)).toEqual(['POST /api/lineitems/{id}/scores']);

    const grades = await pointsOf('ltiaas.grades');
    expect(valueAt(grades, { 'ltiaas.grade.outcome': 'queued', 'error.type': 'LTIAAS_UNAVAILABLE', 'ltiaas.grade.from_outbox': false })).toBe(1);
    expect(valueAt(grades, { 'ltiaas.grade.outcome': 'submitted', 'ltiaas.grade.from_outbox': true })).toBe(1);
    expect(grades).toHaveLength(2);
    const recorded = everythingRecorded([grades]);
    for (const secret of [API_KEY, student.ltik, student.serviceKey!]) expect(recorded).not.toContain(secret);
  });

  it('links every attempt of a grade the outbox retries, and one that a restart delivers, to the request that queued it', async () => {
    const first = await outboxIn();
    const firstHarness = await startHarness({ outbox: first });
    const student = firstHarness.emulator.launch({ user: { id: 'restarted' }, lineItem: { label: 'Lab', scoreMaximum: 10 } });
    await firstHarness.emulator.unreachable();
    const queued = await firstHarness.grades.forLaunch(student.ltik).submit({ scoreGiven: 9, scoreMaximum: 10 });
    expect(queued).toMatchObject({ status: 'queued' });
    // The ID token could not be read either: the first outbox attempts fail before any score is posted.
    await waitFor(async () => gradeSpans().some((span) => span.attributes['ltiaas.grade.outcome'] === 'pending'));
    const request = gradeSpans().find((span) => span.attributes['ltiaas.grade.from_outbox'] === false)!;
    await firstHarness.grades.close();

    const restarted = fileOutbox({ dir: dir!, retry: { minDelayMs: 20, maxDelayMs: 50 } });
    const { emulator } = firstHarness;
    const grades = ltiaasGrades({ ltiaasUrl: emulator.url, apiKey: API_KEY, outbox: restarted, retry: { retries: 0 } });
    harness = { emulator, grades, close: async () => { await grades.close(); await emulator.close(); } };
    await emulator.reachable();
    expect(await restarted.drain(10_000)).toBe(true);

    const attempts = gradeSpans().filter((span) => span.attributes['ltiaas.grade.from_outbox'] === true);
    expect(attempts.length).toBeGreaterThanOrEqual(2);
    expect(attempts.at(-1)!.attributes['ltiaas.grade.outcome']).toBe('submitted');
    for (const attempt of attempts) expect(attempt.links.map((link) => link.context.spanId)).toEqual([idOf(request)]);
    const pending = attempts.find((span) => span.attributes['ltiaas.grade.outcome'] === 'pending')!;
    expect(pending.attributes['error.type']).toBe('LTIAAS_UNAVAILABLE');
    expect(childrenOf(pending).map((span) => [span.name, span.attributes['error.type']])).toEqual([['GET /api/idtoken', 'ECONNREFUSED']]);
  });

  it('marks a refused grade rejected with its code and the LMS status, on the span and the counter, directly and from the outbox', async () => {
    const outbox = await outboxIn();
    const h = await startHarness({ outbox });
    harness = h;
    const student = h.emulator.launch({ user: { id: 'learner' }, lineItem: { label: 'Lab', scoreMaximum: 10 } });
    const teacher = h.emulator.launch({ user: { id: 'teacher' }, role: 'instructor', lineItem: student.lineItemId! });

    await expect(h.grades.forLaunch(teacher.ltik).submit({ scoreGiven: 1, scoreMaximum: 10 })).rejects.toMatchObject({ code: 'LTIAAS_REJECTED' });
    const [direct] = gradeSpans();
    expect(direct!.attributes).toEqual({ 'ltiaas.grade.from_outbox': false, 'ltiaas.grade.outcome': 'rejected', 'error.type': 'LTIAAS_REJECTED', 'ltiaas.upstream.status_code': 422 });
    expect(direct!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'LTIAAS_REJECTED' });
    const post = childrenOf(direct!).find((span) => span.name === 'POST /api/lineitems/{id}/scores')!;
    expect([post.attributes['http.response.status_code'], post.attributes['error.type'], post.status.code]).toEqual([422, '422', SpanStatusCode.ERROR]);

    // Queued while the LMS is down, then refused when the outbox delivers it.
    h.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503 });
    await expect(h.grades.forLaunch(teacher.ltik).submit({ scoreGiven: 2, scoreMaximum: 10 })).resolves.toMatchObject({ status: 'queued' });
    expect(await outbox.drain(10_000)).toBe(true);
    expect(await outbox.failed()).toHaveLength(1);
    const fromOutbox = gradeSpans().find((span) => span.attributes['ltiaas.grade.from_outbox'] === true)!;
    expect(fromOutbox.attributes['ltiaas.grade.outcome']).toBe('rejected');
    expect(fromOutbox.links).toHaveLength(1);

    const grades = await pointsOf('ltiaas.grades');
    expect(valueAt(grades, { 'ltiaas.grade.outcome': 'rejected', 'error.type': 'LTIAAS_REJECTED', 'ltiaas.grade.from_outbox': false })).toBe(1);
    expect(valueAt(grades, { 'ltiaas.grade.outcome': 'queued', 'ltiaas.grade.from_outbox': false })).toBe(1);
    expect(valueAt(grades, { 'ltiaas.grade.outcome': 'rejected', 'error.type': 'LTIAAS_REJECTED', 'ltiaas.grade.from_outbox': true })).toBe(1);
    const recorded = everythingRecorded([grades]);
    expect(recorded).not.toContain('Incorrect score received');
    for (const secret of [API_KEY, teacher.ltik, teacher.serviceKey!]) expect(recorded).not.toContain(secret);
  });

  it('counts a grade that was neither delivered nor held as failed, with its code', async () => {
    const h = await startHarness();
    harness = h;
    const student = h.emulator.launch({ user: { id: 'unlucky' }, lineItem: { label: 'Lab', scoreMaximum: 10 } });
    h.emulator.fail({ method: 'POST', path: /\/scores$/, status: 503 });
    await expect(h.grades.forLaunch(student.ltik).submit({ scoreGiven: 4, scoreMaximum: 10 })).rejects.toMatchObject({ code: 'LTIAAS_UNAVAILABLE' });
    const [grade] = gradeSpans();
    expect(grade!.attributes).toMatchObject({ 'ltiaas.grade.outcome': 'failed', 'error.type': 'LTIAAS_UNAVAILABLE', 'ltiaas.upstream.status_code': 503 });
    expect(grade!.status.code).toBe(SpanStatusCode.ERROR);
    expect(await pointsOf('ltiaas.grades')).toEqual([{ attributes: { 'ltiaas.grade.outcome': 'failed', 'ltiaas.grade.from_outbox': false, 'error.type': 'LTIAAS_UNAVAILABLE' }, value: 1 }]);
  });

  it('puts user and column ids on spans only with telemetry: { userIds: true }, and never on metrics', async () => {
    const h = await startHarness({ telemetry: { userIds: true } });
    harness = h;
    const student = h.emulator.launch({ user: { id: 'opted-in' }, lineItem: { label: 'Lab', scoreMaximum: 10 } });
    await h.grades.forLaunch(student.ltik).submit({ scoreGiven: 8, scoreMaximum: 10 });

    const [grade] = gradeSpans();
    expect(grade!.attributes).toMatchObject({ 'user.id': 'opted-in', 'ltiaas.line_item.id': student.lineItemId });
    const post = clientSpans().find((span) => span.name === 'POST /api/lineitems/{id}/scores')!;
    expect(post.attributes).toMatchObject({ 'user.id': 'opted-in', 'ltiaas.line_item.id': student.lineItemId });
    const metrics = await sdk.collect();
    const points = JSON.stringify([...metrics.values()].map((metric) => metric.points));
    expect(points).not.toContain('opted-in');
    expect(points).not.toContain(student.lineItemId!);
    const recorded = everythingRecorded([]);
    for (const secret of [API_KEY, student.ltik, student.serviceKey!]) expect(recorded).not.toContain(secret);
  });

  it('reports the outbox gauges from stats() once per collection, and stops asking at close()', async () => {
    const outbox = await outboxIn();
    let statsCalls = 0;
    const counted: Outbox = {
      ...listsOnly(outbox),
      stats: () => {
        statsCalls += 1;
        return outbox.stats!();
      },
    };
    const h = await startHarness({ outbox: counted });
    harness = h;
    const first = h.emulator.launch({ user: { id: 'held-1' }, lineItem: { label: 'Lab', scoreMaximum: 10 } });
    const second = h.emulator.launch({ user: { id: 'held-2' }, lineItem: first.lineItemId! });
    await h.emulator.unreachable();
    await h.grades.forLaunch(first.ltik).submit({ scoreGiven: 1, scoreMaximum: 10 });
    await h.grades.forLaunch(second.ltik).submit({ scoreGiven: 2, scoreMaximum: 10 });

    const metrics = await sdk.collect();
    expect(metrics.get('ltiaas.outbox.pending')!.points).toEqual([{ attributes: {}, value: 2 }]);
    expect(metrics.get('ltiaas.outbox.failed')!.points).toEqual([{ attributes: {}, value: 0 }]);
    const age = metrics.get('ltiaas.outbox.oldest_pending_age')!;
    expect(age.data.descriptor.unit).toBe('s');
    expect(age.points[0]!.value).toBeGreaterThanOrEqual(0);
    expect(age.points[0]!.value).toBeLessThan(600);
    expect(statsCalls).toBe(1);

    await sdk.collect();
    expect(statsCalls).toBe(2);

    await h.grades.close();
    harness = { ...h, close: () => h.emulator.close() };
    await sdk.collect();
    expect(statsCalls).toBe(2);
  });

  it('counts an outbox without stats() through its lists', async () => {
    const outbox = await outboxIn();
    const h = await startHarness({ outbox: listsOnly(outbox) });
    harness = h;
    const student = h.emulator.launch({ user: { id: 'listed' }, lineItem: { label: 'Lab', scoreMaximum: 10 } });
    await h.emulator.unreachable();
    await h.grades.forLaunch(student.ltik).submit({ scoreGiven: 1, scoreMaximum: 10 });
    const metrics = await sdk.collect();
    expect(metrics.get('ltiaas.outbox.pending')!.points).toEqual([{ attributes: {}, value: 1 }]);
    expect(metrics.get('ltiaas.outbox.failed')!.points).toEqual([{ attributes: {}, value: 0 }]);
    expect(metrics.get('ltiaas.outbox.oldest_pending_age')!.points).toHaveLength(1);
  });
});

describe('the telemetry option', () => {
  const problemOf = (build: () => unknown): string => {
    try {
      build();
    } catch (error) {
      expect((error as { code?: string }).code).toBe('OPTIONS_INVALID');
      return (error as Error).message;
    }
    throw new Error('expected OPTIONS_INVALID');
  };
  const base = { ltiaasUrl: 'http://127.0.0.1:1', apiKey: API_KEY };

  it.each([
    ['ltiaasGrades', (options: object) => ltiaasGrades({ ...base, ...options } as never)],
    ['ltiaasClient', (options: object) => ltiaasClient({ ...base, ...options } as never)],
  ])('is checked by %s(): a boolean userIds, no other key, with a hint', async (factory, build) => {
    expect(problemOf(() => build({ telemetry: { userIds: 'yes' } }))).toContain(`${factory}(): option "telemetry.userIds" is invalid`);
    expect(problemOf(() => build({ telemetry: { userId: true } }))).toContain('unknown option "telemetry.userId": did you mean "userIds"?');
    expect(problemOf(() => build({ telemetry: true }))).toContain('option "telemetry" is invalid');
    for (const telemetry of [undefined, {}, { userIds: true }, { userIds: false }]) await build(telemetry === undefined ? {} : { telemetry }).close();
  });
});

/** Waits for a condition the background outbox brings about, with a generous deadline. */
async function waitFor(condition: () => Promise<boolean> | boolean, deadlineMs = 10_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error('condition not reached before the deadline');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
