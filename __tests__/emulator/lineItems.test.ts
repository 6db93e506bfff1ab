// The emulator's line item endpoints: create, validate, scope to a course, filter, find by id, replace and delete.
import { emulator, useFreshEmulator, call, ltikAuth, serviceAuth, lineItemPath, scoresPath, score, createLineItem } from './emulatorTest';

useFreshEmulator();

describe('line items', () => {
  it('creates a line item (201) with a Moodle-style id that carries a query string', async () => {
    const launch = emulator.launch();
    const response = await call('POST', '/api/lineitems', {
      auth: ltikAuth(launch.ltik),
      body: {
        label: 'Quiz 1',
        scoreMaximum: 10,
        resourceId: 'quiz-1',
        tag: 'quiz',
        resourceLinkId: launch.resourceLinkId,
        startDateTime: '2025-03-01T08:00:00+01:00',
        endDateTime: '2025-03-08T08:00:00.000Z',
        gradesReleased: true,
        unknownField: 'dropped',
      },
    });
    expect(response.status).toBe(201);
    expect(response.body).toEqual({
      id: expect.stringMatching(/^https:\/\/lms\.example\.edu\/mod\/lti\/services\.php\/\d+\/lineitems\/\d+\/lineitem\?type_id=1$/),
      label: 'Quiz 1',
      scoreMaximum: 10,
      resourceId: 'quiz-1',
      tag: 'quiz',
      resourceLinkId: 'resource-link-1',
      startDateTime: '2025-03-01T08:00:00+01:00',
      endDateTime: '2025-03-08T08:00:00.000Z',
      gradesReleased: true,
    });
    expect(emulator.lineItems({ contextId: 'course-1' })).toEqual([
      { ...response.body, contextId: 'course-1', platformId: 'platform-1', scores: [] },
    ]);
    expect(emulator.lineItems({ contextId: 'course-2' })).toEqual([]);
  });

  it('refuses invalid line item bodies with 400 in the LTIAAS shape', async () => {
    const auth = ltikAuth(emulator.launch().ltik);
    const invalid: Array<[unknown, string]> = [
      [{ scoreMaximum: 10 }, 'label'],
      [{ label: '   ', scoreMaximum: 10 }, 'label'],
      [{ label: 'Quiz' }, 'scoreMaximum'],
      [{ label: 'Quiz', scoreMaximum: 0 }, 'scoreMaximum'],
      [{ label: 'Quiz', scoreMaximum: -1 }, 'scoreMaximum'],
      [{ label: 'Quiz', scoreMaximum: '10' }, 'scoreMaximum'],
      [{ label: 'Quiz', scoreMaximum: 10, resourceId: 7 }, 'resourceId'],
      [{ label: 'Quiz', scoreMaximum: 10, startDateTime: 'next monday' }, 'startDateTime'],
      [{ label: 'Quiz', scoreMaximum: 10, endDateTime: '2025-02-30T10:00:00Z' }, 'endDateTime'],
      [{ label: 'Quiz', scoreMaximum: 10, gradesReleased: 'yes' }, 'gradesReleased'],
      [[{ label: 'Quiz', scoreMaximum: 10 }], '(body)'],
    ];
    for (const [body, field] of invalid) {
      const response = await call('POST', '/api/lineitems', { auth, body });
      expect({ body, status: response.status }).toEqual({ body, status: 400 });
      expect(response.body).toMatchObject({ status: 400, error: 'Bad Request', details: { message: 'INVALID_BODY_PARAMETERS' } });
      expect(response.body.details.issues.map((issue: { field: string }) => issue.field)).toContain(field);
    }
    expect(emulator.lineItems()).toEqual([]);
  });

  it('refuses bad JSON and a body sent without a JSON content type', async () => {
    const auth = ltikAuth(emulator.launch().ltik);
    const badJson = await call('POST', '/api/lineitems', { auth, body: '{"label": "Quiz",' });
    expect(badJson.status).toBe(400);
    expect(badJson.body.details.message).toBe('INVALID_JSON_BODY');
    const asText = await call('POST', '/api/lineitems', { auth, body: '{"label":"Quiz","scoreMaximum":10}', contentType: 'text/plain' });
    expect(asText.status).toBe(400);
    expect(emulator.lineItems()).toEqual([]);
  });

  it('shows a credential only its own course: other ids are 404', async () => {
    const mine = emulator.launch({ context: { id: 'course-1' } });
    const theirs = emulator.launch({ context: { id: 'course-2' } });
    const otherPlatform = emulator.launch({ context: { id: 'course-1' }, platform: { id: 'platform-2' } });
    const theirItem = await createLineItem(theirs, { label: 'Theirs', scoreMaximum: 10 });
    const myItem = await createLineItem(mine, { label: 'Mine', scoreMaximum: 10 });

    const list = await call('GET', '/api/lineitems', { auth: ltikAuth(mine.ltik) });
    expect(list.body.lineItems.map((item: { id: string }) => item.id)).toEqual([myItem]);
    for (const auth of [ltikAuth(mine.ltik), serviceAuth(mine.serviceKey!)]) {
      const response = await call('GET', lineItemPath(theirItem), { auth });
      expect(response.status).toBe(404);
      expect(response.body).toMatchObject({ status: 404, error: 'Not Found', details: { externalError: true } });
    }
    // Same course id on another platform is another course.
    expect((await call('GET', lineItemPath(myItem), { auth: ltikAuth(otherPlatform.ltik) })).status).toBe(404);
    expect((await call('POST', scoresPath(theirItem), { auth: ltikAuth(mine.ltik), body: score(mine.userId) })).status).toBe(404);
  });

  it('filters the list by resourceLinkId, resourceId and tag', async () => {
    const launch = emulator.launch();
    // A line item can be bound only to a resource link of the course: place rl-1 and rl-2 in it.
    emulator.launch({ resourceLink: { id: 'rl-1' } });
    emulator.launch({ resourceLink: { id: 'rl-2' } });
    const a = await createLineItem(launch, { label: 'A', scoreMaximum: 1, resourceLinkId: 'rl-1', resourceId: 'r-a', tag: 'quiz' });
    const b = await createLineItem(launch, { label: 'B', scoreMaximum: 1, resourceLinkId: 'rl-1', resourceId: 'r-b', tag: 'essay' });
    const c = await createLineItem(launch, { label: 'C', scoreMaximum: 1, resourceLinkId: 'rl-2', resourceId: 'r-a', tag: 'quiz' });
    const ids = async (query: string): Promise<string[]> =>
      (await call('GET', `/api/lineitems${query}`, { auth: ltikAuth(launch.ltik) })).body.lineItems.map((item: { id: string }) => item.id);
    expect(await ids('')).toEqual([a, b, c]);
    expect(await ids('?resourceLinkId=rl-1')).toEqual([a, b]);
    expect(await ids('?resourceId=r-a')).toEqual([a, c]);
    expect(await ids('?tag=essay')).toEqual([b]);
    expect(await ids('?resourceId=r-a&tag=quiz&resourceLinkId=rl-2')).toEqual([c]);
    expect(await ids('?resourceId=none')).toEqual([]);
  });

  it('finds a line item by its id encoded once; raw or encoded twice is a 404', async () => {
    const launch = emulator.launch();
    const auth = ltikAuth(launch.ltik);
    const id = await createLineItem(launch, { label: 'Quiz', scoreMaximum: 10 });
    const once = await call('GET', `/api/lineitems/${encodeURIComponent(id)}`, { auth });
    expect(once.status).toBe(200);
    expect(once.body).toMatchObject({ id, label: 'Quiz', scoreMaximum: 10 });
    expect((await call('GET', `/api/lineitems/${encodeURIComponent(encodeURIComponent(id))}`, { auth })).status).toBe(404);
    expect((await call('GET', `/api/lineitems/${id}`, { auth })).status).toBe(404);
    // encodeURI leaves '/', '?' and ':' alone, which is the usual way to get this wrong.
    expect((await call('GET', `/api/lineitems/${encodeURI(id)}/scores`, { auth })).status).toBe(404);
    expect((await call('POST', `/api/lineitems/${encodeURIComponent(encodeURIComponent(id))}/scores`, { auth, body: score(launch.userId) })).status).toBe(404);
    expect(emulator.scores(id)).toEqual([]);
  });

  it('PUT replaces the whole line item (201), DELETE removes it (204), later calls get 404', async () => {
    const launch = emulator.launch();
    const auth = ltikAuth(launch.ltik);
    const id = await createLineItem(launch, { label: 'Quiz', scoreMaximum: 10, resourceId: 'quiz-1', tag: 'quiz' });

    const invalidPut = await call('PUT', lineItemPath(id), { auth, body: { label: '' , scoreMaximum: 10 } });
    expect(invalidPut.status).toBe(400);
    const put = await call('PUT', lineItemPath(id), { auth, body: { id, label: 'Quiz (renamed)', scoreMaximum: 20 } });
    expect(put.status).toBe(201);
    expect(put.body).toEqual({ id, label: 'Quiz (renamed)', scoreMaximum: 20 });
    expect((await call('GET', lineItemPath(id), { auth })).body).toEqual({ id, label: 'Quiz (renamed)', scoreMaximum: 20 });

    const deleted = await call('DELETE', lineItemPath(id), { auth });
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe('');
    expect((await call('GET', lineItemPath(id), { auth })).status).toBe(404);
    expect((await call('DELETE', lineItemPath(id), { auth })).status).toBe(404);
    expect(emulator.lineItems()).toEqual([]);
  });

  it('answers 404 for a line item deleted in the LMS', async () => {
    const launch = emulator.launch();
    const seeded = emulator.addLineItem('course-1', { label: 'Seeded', scoreMaximum: 5, resourceId: 'seed-1' });
    expect((await call('GET', lineItemPath(seeded.id), { auth: ltikAuth(launch.ltik) })).status).toBe(200);
    emulator.deleteLineItem(seeded.id);
    const response = await call('POST', scoresPath(seeded.id), { auth: ltikAuth(launch.ltik), body: score(launch.userId) });
    expect(response.status).toBe(404);
    expect(response.body.details.externalError).toBe(true);
  });

  it('answers unknown /api routes and methods with an LTIAAS-shaped 404', async () => {
    const auth = ltikAuth(emulator.launch().ltik);
    for (const [method, path] of [['GET', '/api/rosters'], ['POST', '/api/memberships'], ['PATCH', '/api/lineitems'], ['POST', '/api/idtoken'], ['GET', '/api']]) {
      const response = await call(method!, path!, { auth });
      expect(response.status).toBe(404);
      expect(response.body).toMatchObject({ status: 404, error: 'Not Found', details: { message: 'ROUTE_NOT_FOUND' } });
    }
  });
});
