// The emulator's score and result endpoints: accepted and refused scores, the LMS's refusals, ordering by timestamp, results.
import type { EmulatedLaunch } from 'express-ltiaas-grades/testing';
import { emulator, useFreshEmulator, call, ltikAuth, serviceAuth, scoresPath, nextTimestamp, score, createLineItem, type CallResult } from './emulatorTest';

useFreshEmulator();

describe('scores', () => {
  async function gradedLaunch(): Promise<{ launch: EmulatedLaunch; auth: string; item: string }> {
    const launch = emulator.launch({ user: { id: 'student-1' } });
    const item = await createLineItem(launch, { label: 'Quiz', scoreMaximum: 10 });
    return { launch, auth: ltikAuth(launch.ltik), item };
  }

  it('accepts a score with 204 and no body, and records it with receivedAt', async () => {
    const { auth, item } = await gradedLaunch();
    const sent = score('student-1', { comment: 'Well done', submission: { submittedAt: '2025-03-01T09:59:00Z' } });
    const response = await call('POST', scoresPath(item), { auth, body: sent });
    expect(response.status).toBe(204);
    expect(response.text).toBe('');
    const [recorded, ...others] = emulator.scores(item, 'student-1');
    expect(others).toEqual([]);
    expect(recorded).toEqual({ ...sent, receivedAt: expect.any(String) });
    expect(Date.parse(recorded!.receivedAt)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('accepts 0, extra credit, a progress-only score, and a service key', async () => {
    const { launch, auth, item } = await gradedLaunch();
    expect((await call('POST', scoresPath(item), { auth, body: score('student-1', { scoreGiven: 0 }) })).status).toBe(204);
    expect((await call('POST', scoresPath(item), { auth, body: score('student-1', { scoreGiven: 12 }) })).status).toBe(204);
    const progressOnly = { userId: 'student-1', activityProgress: 'Started', gradingProgress: 'NotReady', timestamp: nextTimestamp() };
    expect((await call('POST', scoresPath(item), { auth, body: progressOnly })).status).toBe(204);
    const viaServiceKey = await call('POST', scoresPath(item), { auth: serviceAuth(launch.serviceKey!), body: score('student-1', { scoreGiven: 9 }) });
    expect(viaServiceKey.status).toBe(204);
    expect(emulator.scores(item).map((received) => received.scoreGiven)).toEqual([0, 12, undefined, 9]);
  });

  it('refuses invalid scores with 400 and records none of them', async () => {
    const { auth, item } = await gradedLaunch();
    const withoutScoreMaximum = score('student-1');
    delete withoutScoreMaximum.scoreMaximum;
    const withoutUser = score('student-1');
    delete withoutUser.userId;
    const invalid: Array<[Record<string, unknown>, string]> = [
      [withoutScoreMaximum, 'scoreMaximum'],
      [withoutUser, 'userId'],
      [score('student-1', { activityProgress: 'Initiated' }), 'activityProgress'],
      [score('student-1', { gradingProgress: 'Graded' }), 'gradingProgress'],
      [score('student-1', { scoreGiven: -1 }), 'scoreGiven'],
      [score('student-1', { scoreGiven: '7' }), 'scoreGiven'],
      [score('student-1', { scoreMaximum: 0 }), 'scoreMaximum'],
      [score('student-1', { timestamp: 'yesterday' }), 'timestamp'],
      [score('student-1', { timestamp: '2025-03-01T10:00:00' }), 'timestamp'],
      [score('student-1', { comment: 42 }), 'comment'],
      [score('student-1', { submission: { submittedAt: 'soon' } }), 'submission.submittedAt'],
    ];
    for (const [body, field] of invalid) {
      const response = await call('POST', scoresPath(item), { auth, body });
      expect({ field, status: response.status }).toEqual({ field, status: 400 });
      expect(response.body).toMatchObject({ status: 400, error: 'Bad Request', details: { message: 'INVALID_BODY_PARAMETERS' } });
      expect(response.body.details.issues.map((issue: { field: string }) => issue.field)).toContain(field);
    }
    expect(emulator.scores(item)).toEqual([]);
  });

  it('passes the LMS refusal through for users it will not grade: 422, external, with the LMS body', async () => {
    const { auth, item } = await gradedLaunch();
    const instructor = emulator.launch({ user: { id: 'teacher-1' }, role: 'instructor' });
    emulator.launch({ user: { id: 'test-student' }, gradable: false });
    for (const userId of [instructor.userId, 'test-student', 'never-enrolled']) {
      const response = await call('POST', scoresPath(item), { auth, body: score(userId) });
      expect({ userId, status: response.status }).toEqual({ userId, status: 422 });
      expect(response.body).toMatchObject({
        status: 422,
        error: 'Unprocessable Entity',
        details: { externalError: true, bodyReceived: { message: 'Incorrect score received' } },
      });
    }
    expect(emulator.scores(item)).toEqual([]);

    // Enrolled without a launch (batch grading): gradable.
    emulator.enroll('course-1', { id: 'never-enrolled' });
    emulator.enroll('course-1', { id: 'assistant', role: 'instructor' });
    expect((await call('POST', scoresPath(item), { auth, body: score('never-enrolled') })).status).toBe(204);
    expect((await call('POST', scoresPath(item), { auth, body: score('assistant') })).status).toBe(422);
  });

  it('ignores a score older than the held one and a repeat of the same timestamp (204, not stored)', async () => {
    const { auth, item } = await gradedLaunch();
    const post = (timestamp: string, scoreGiven: number): Promise<CallResult> =>
      call('POST', scoresPath(item), { auth, body: score('student-1', { timestamp, scoreGiven }) });
    expect((await post('2025-03-02T10:00:00.000Z', 5)).status).toBe(204);
    expect((await post('2025-03-02T09:59:59.999Z', 1)).status).toBe(204);
    // The same instant written with another offset is the same timestamp.
    expect((await post('2025-03-02T11:00:00.000+01:00', 2)).status).toBe(204);
    expect((await post('2025-03-02T10:00:00.000001Z', 6)).status).toBe(204);
    expect((await post('2025-03-02T10:00:00.000001Z', 3)).status).toBe(204);
    expect(emulator.scores(item, 'student-1').map((received) => received.scoreGiven)).toEqual([5, 6]);

    const results = await call('GET', scoresPath(item), { auth });
    expect(results.body.scores).toEqual([expect.objectContaining({ userId: 'student-1', resultScore: 6, timestamp: '2025-03-02T10:00:00.000001Z' })]);
  });

  it('lists results from the latest accepted score per user, filtered by userId and paged', async () => {
    const { auth, item } = await gradedLaunch();
    for (const userId of ['student-2', 'student-3']) emulator.enroll('course-1', { id: userId });
    await call('POST', scoresPath(item), { auth, body: score('student-1', { scoreGiven: 4, comment: 'first try' }) });
    await call('POST', scoresPath(item), { auth, body: score('student-1', { scoreGiven: 8 }) });
    await call('POST', scoresPath(item), { auth, body: score('student-2', { scoreGiven: 0, scoreMaximum: 10, comment: 'missed it' }) });
    await call('POST', scoresPath(item), { auth, body: score('student-3', { scoreGiven: 10 }) });

    const all = await call('GET', scoresPath(item), { auth });
    expect(all.status).toBe(200);
    expect(all.body.scores).toEqual([
      { id: expect.any(String), userId: 'student-1', scoreOf: item, timestamp: expect.any(String), resultScore: 8, resultMaximum: 10 },
      { id: expect.any(String), userId: 'student-2', scoreOf: item, timestamp: expect.any(String), resultScore: 0, resultMaximum: 10, comment: 'missed it' },
      { id: expect.any(String), userId: 'student-3', scoreOf: item, timestamp: expect.any(String), resultScore: 10, resultMaximum: 10 },
    ]);
    expect(all.body).not.toHaveProperty('next');

    const one = await call('GET', `${scoresPath(item)}?userId=student-2`, { auth });
    expect(one.body.scores.map((result: { userId: string }) => result.userId)).toEqual(['student-2']);

    const page1 = await call('GET', `${scoresPath(item)}?limit=2`, { auth });
    expect(page1.body.scores).toHaveLength(2);
    const page2 = await call('GET', `${scoresPath(item)}?url=${encodeURIComponent(page1.body.next)}&userId=student-1`, { auth });
    expect(page2.body.scores.map((result: { userId: string }) => result.userId)).toEqual(['student-3']);
    // A results page of this line item is not a page of another one.
    const other = await createLineItem(emulator.launch({ user: { id: 'student-1' } }), { label: 'Other', scoreMaximum: 1 });
    expect((await call('GET', `${scoresPath(other)}?url=${encodeURIComponent(page1.body.next)}`, { auth })).status).toBe(400);
  });
});
