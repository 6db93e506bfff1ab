// Tests of the LTIAAS emulator (express-ltiaas-grades/testing), spoken to over real HTTP with Node's fetch.
import { Agent, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { startEmulator, type EmulatedLaunch, type LtiaasEmulator } from 'express-ltiaas-grades/testing';

const LEARNER = 'http://purl.imsglobal.org/vocab/lis/v2/membership#Learner';
const INSTRUCTOR = 'http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor';
const DOCUMENTED_401 = {
  status: 401,
  error: 'Unauthorized',
  details: { message: 'INVALID_LTIK_AUTH_AUTHORIZATION_HEADER', description: 'Invalid or expired ltik.' },
};

let emulator: LtiaasEmulator;

beforeEach(async () => {
  emulator = await startEmulator();
});

afterEach(async () => {
  await emulator.close();
});

interface CallOptions {
  auth?: string;
  body?: unknown;
  contentType?: string | null;
  signal?: AbortSignal;
}

interface CallResult {
  status: number;
  headers: Headers;
  text: string;
  // Tests read arbitrary JSON fields; any keeps them short, and a wrong field fails the assertion anyway.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

async function call(method: string, path: string, options: CallOptions = {}, target: LtiaasEmulator = emulator): Promise<CallResult> {
  const headers: Record<string, string> = {};
  if (options.auth !== undefined) headers.authorization = options.auth;
  let payload: string | undefined;
  if (options.body !== undefined) {
    payload = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    if (options.contentType !== null) headers['content-type'] = options.contentType ?? 'application/json';
  }
  const response = await fetch(`${target.url}${path}`, {
    method,
    headers,
    ...(payload === undefined ? {} : { body: payload }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    redirect: 'manual',
  });
  const text = await response.text();
  let body: unknown = undefined;
  if (text !== '') {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  return { status: response.status, headers: response.headers, text, body };
}

const ltikAuth = (ltik: string, apiKey = emulator.apiKey): string => `LTIK-AUTH-V2 ${apiKey}:${ltik}`;
const serviceAuth = (serviceKey: string, apiKey = emulator.apiKey): string => `SERVICE-AUTH-V1 ${apiKey}:${serviceKey}`;
const lineItemPath = (id: string): string => `/api/lineitems/${encodeURIComponent(id)}`;
const scoresPath = (id: string): string => `${lineItemPath(id)}/scores`;

let clockMs = Date.parse('2025-03-01T10:00:00.000Z');
function nextTimestamp(): string {
  clockMs += 1000;
  return new Date(clockMs).toISOString();
}

function score(userId: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    userId,
    activityProgress: 'Completed',
    gradingProgress: 'FullyGraded',
    scoreGiven: 7,
    scoreMaximum: 10,
    timestamp: nextTimestamp(),
    ...extra,
  };
}

async function createLineItem(launch: EmulatedLaunch, spec: Record<string, unknown>): Promise<string> {
  const created = await call('POST', '/api/lineitems', { auth: ltikAuth(launch.ltik), body: spec });
  expect(created.status).toBe(201);
  return created.body.id as string;
}

function withoutSecrets(text: string, secrets: string[]): void {
  for (const secret of secrets) expect(text).not.toContain(secret);
}

describe('options', () => {
  it('refuses an API key that contains ":" and unknown options', async () => {
    await expect(startEmulator({ apiKey: 'key:with:colons' })).rejects.toThrow(/apiKey/);
    await expect(startEmulator({ pageSise: 3 } as never)).rejects.toThrow(/unknown option.*pageSise/);
  });

  it('listens on 127.0.0.1 with the default API key', () => {
    expect(emulator.url).toBe(`http://127.0.0.1:${emulator.port}`);
    expect(emulator.port).toBeGreaterThan(0);
    expect(emulator.apiKey).toBe('emulator-api-key');
  });
});

describe('authentication', () => {
  it('accepts LTIK-AUTH-V2 and the old LTIK-AUTH-V1 form on /api/idtoken, and logs which one was used', async () => {
    const launch = emulator.launch();
    expect((await call('GET', '/api/idtoken', { auth: ltikAuth(launch.ltik) })).status).toBe(200);
    const v1 = `LTIK-AUTH-V1 Token=${launch.ltik}, Additional=Bearer ${emulator.apiKey}`;
    expect((await call('GET', '/api/idtoken', { auth: v1 })).status).toBe(200);
    expect(emulator.requests.map((entry) => entry.authScheme)).toEqual(['LTIK-AUTH-V2', 'LTIK-AUTH-V1']);
  });

  it('refuses service keys, Bearer and a missing header on /api/idtoken with 401 in the LTIAAS shape', async () => {
    const launch = emulator.launch();
    const serviceKey = launch.serviceKey!;
    const refusals = [
      [serviceAuth(serviceKey), 'UNSUPPORTED_AUTHORIZATION_SCHEME'],
      [`Bearer ${emulator.apiKey}`, 'UNSUPPORTED_AUTHORIZATION_SCHEME'],
      [undefined, 'MISSING_AUTHORIZATION_HEADER'],
      [`Basic ${emulator.apiKey}`, 'UNSUPPORTED_AUTHORIZATION_SCHEME'],
    ] as const;
    for (const [auth, code] of refusals) {
      const response = await call('GET', '/api/idtoken', auth === undefined ? {} : { auth });
      expect(response.status).toBe(401);
      expect(response.body).toMatchObject({ status: 401, error: 'Unauthorized', details: { message: code } });
      expect(typeof response.body.details.description).toBe('string');
    }
    expect(emulator.requests.map((entry) => entry.authScheme)).toEqual(['SERVICE-AUTH-V1', 'Bearer', 'none', 'other']);
  });

  it('accepts ltiks and service keys on line item endpoints and refuses Bearer, a wrong key or an unknown credential', async () => {
    const launch = emulator.launch();
    expect((await call('GET', '/api/lineitems', { auth: ltikAuth(launch.ltik) })).status).toBe(200);
    expect((await call('GET', '/api/lineitems', { auth: serviceAuth(launch.serviceKey!) })).status).toBe(200);

    const refusals = [
      [`Bearer ${emulator.apiKey}`, 'UNSUPPORTED_AUTHORIZATION_SCHEME'],
      [ltikAuth(launch.ltik, 'wrong-api-key'), 'INVALID_API_KEY'],
      [serviceAuth(launch.serviceKey!, 'wrong-api-key'), 'INVALID_API_KEY'],
      [ltikAuth('not-an-issued-ltik'), 'INVALID_LTIK_AUTH_AUTHORIZATION_HEADER'],
      [serviceAuth('not-an-issued-service-key'), 'INVALID_SERVICE_AUTH_AUTHORIZATION_HEADER'],
      // The service key is not an ltik: using it with the ltik scheme must not work.
      [ltikAuth(launch.serviceKey!), 'INVALID_LTIK_AUTH_AUTHORIZATION_HEADER'],
      [`LTIK-AUTH-V2 ${launch.ltik}`, 'INVALID_LTIK_AUTH_AUTHORIZATION_HEADER'],
      [`ltik-auth-v2 ${emulator.apiKey}:${launch.ltik}`, 'UNSUPPORTED_AUTHORIZATION_SCHEME'],
    ] as const;
    for (const [auth, code] of refusals) {
      const response = await call('GET', '/api/lineitems', { auth });
      expect({ auth, status: response.status, code: response.body.details.message }).toEqual({ auth, status: 401, code });
      expect(response.body.error).toBe('Unauthorized');
    }
  });

  it('answers an expired ltik with exactly the documented 401 body, while the service key keeps working', async () => {
    const alreadyExpired = emulator.launch({ expired: true });
    const response = await call('GET', '/api/idtoken', { auth: ltikAuth(alreadyExpired.ltik) });
    expect(response.status).toBe(401);
    expect(response.body).toEqual(DOCUMENTED_401);

    const launch = emulator.launch();
    expect((await call('GET', '/api/lineitems', { auth: ltikAuth(launch.ltik) })).status).toBe(200);
    emulator.expireLtik(launch.ltik);
    expect((await call('GET', '/api/lineitems', { auth: ltikAuth(launch.ltik) })).body).toEqual(DOCUMENTED_401);
    expect((await call('GET', '/api/lineitems', { auth: serviceAuth(launch.serviceKey!) })).status).toBe(200);
  });

  it('expires ltiks after ltikTtlMs on the given clock', async () => {
    let now = 1_000_000;
    const timed = await startEmulator({ now: () => now, ltikTtlMs: 60_000 });
    try {
      const launch = timed.launch();
      const auth = `LTIK-AUTH-V2 ${timed.apiKey}:${launch.ltik}`;
      now += 59_999;
      expect((await call('GET', '/api/idtoken', { auth }, timed)).status).toBe(200);
      now += 1;
      expect((await call('GET', '/api/idtoken', { auth }, timed)).body).toEqual(DOCUMENTED_401);
    } finally {
      await timed.close();
    }
  });
});

describe('GET /api/idtoken', () => {
  it('returns the formatted ID token of the launch, with a service key when grades are available', async () => {
    const launch = emulator.launch({
      user: { id: 'u-42', name: 'Ada Lovelace', email: 'ada@example.edu' },
      context: { id: 'course-7', title: 'Analytical Engines', label: 'AE101' },
      resourceLink: { id: 'rl-9', title: 'Quiz 1' },
    });
    const response = await call('GET', '/api/idtoken', { auth: ltikAuth(launch.ltik) });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      user: { id: 'u-42', roles: [LEARNER], name: 'Ada Lovelace', givenName: 'Ada', familyName: 'Lovelace', email: 'ada@example.edu' },
      platform: {
        id: 'platform-1',
        url: 'https://lms.example.edu',
        clientId: expect.any(String),
        deploymentId: expect.any(String),
        name: expect.any(String),
        productFamilyCode: 'moodle',
      },
      launch: {
        type: 'LtiResourceLinkRequest',
        target: expect.any(String),
        context: { id: 'course-7', title: 'Analytical Engines', label: 'AE101', type: [expect.any(String)] },
        resourceLink: { id: 'rl-9', title: 'Quiz 1' },
        presentation: expect.any(Object),
        custom: {},
      },
      services: {
        assignmentAndGrades: { available: true },
        namesAndRoles: { available: false },
        deepLinking: { available: false },
        outcomes: { available: false },
        serviceKey: launch.serviceKey,
      },
      ltiVersion: '1.3.0',
    });
    expect(typeof launch.serviceKey).toBe('string');
    expect(launch.idToken).toEqual(response.body);
  });

  it('gives instructors the full IMS instructor role and a default user id', async () => {
    const launch = emulator.launch({ role: 'instructor' });
    const body = (await call('GET', '/api/idtoken', { auth: ltikAuth(launch.ltik) })).body;
    expect(body.user.roles).toEqual([INSTRUCTOR]);
    expect(body.user.id).toBe(launch.userId);
    expect(launch.userId).toMatch(/^user-\d+$/);
  });

  it('without grades: no service key, available false, and 403 SERVICE_NOT_AVAILABLE_FOR_CONTEXT on grade endpoints', async () => {
    const graded = emulator.launch({ user: { id: 'learner-1' } });
    const item = await createLineItem(graded, { label: 'Quiz', scoreMaximum: 10 });
    const launch = emulator.launch({ grades: false, user: { id: 'learner-1' } });
    expect(launch.serviceKey).toBeUndefined();

    const idToken = await call('GET', '/api/idtoken', { auth: ltikAuth(launch.ltik) });
    expect(idToken.status).toBe(200);
    expect(idToken.body.services.assignmentAndGrades).toEqual({ available: false });
    expect(idToken.body.services).not.toHaveProperty('serviceKey');

    const auth = ltikAuth(launch.ltik);
    for (const [method, path, body] of [
      ['GET', '/api/lineitems', undefined],
      ['POST', '/api/lineitems', { label: 'Quiz', scoreMaximum: 10 }],
      ['GET', lineItemPath(item), undefined],
      ['POST', scoresPath(item), score('learner-1')],
    ] as const) {
      const response = await call(method, path, { auth, body });
      expect(response.status).toBe(403);
      expect(response.body).toMatchObject({ status: 403, error: 'Forbidden', details: { message: 'SERVICE_NOT_AVAILABLE_FOR_CONTEXT' } });
    }
    expect(emulator.scores(item)).toEqual([]);
  });

  it('issues one service key per (platform, context, resource link), the same on every launch', () => {
    const first = emulator.launch({ resourceLink: { id: 'rl-a' } });
    const again = emulator.launch({ resourceLink: { id: 'rl-a' }, role: 'instructor' });
    const otherLink = emulator.launch({ resourceLink: { id: 'rl-b' } });
    const otherCourse = emulator.launch({ resourceLink: { id: 'rl-a' }, context: { id: 'course-2' } });
    const otherPlatform = emulator.launch({ resourceLink: { id: 'rl-a' }, platform: { id: 'canvas-1', url: 'https://canvas.example.edu', productFamilyCode: 'canvas' } });
    expect(again.serviceKey).toBe(first.serviceKey);
    expect(again.ltik).not.toBe(first.ltik);
    const keys = new Set([first.serviceKey, otherLink.serviceKey, otherCourse.serviceKey, otherPlatform.serviceKey]);
    expect(keys.size).toBe(4);
  });

  it('couples a line item to the resource link: created once, found again, named by id', async () => {
    const first = emulator.launch({ resourceLink: { id: 'rl-quiz' }, lineItem: { label: 'Quiz', scoreMaximum: 20, resourceId: 'quiz-1' } });
    expect(first.lineItemId).toMatch(/^https:\/\/lms\.example\.edu\/mod\/lti\/services\.php\/\d+\/lineitems\/\d+\/lineitem\?type_id=1$/);
    const idToken = (await call('GET', '/api/idtoken', { auth: ltikAuth(first.ltik) })).body;
    expect(idToken.services.assignmentAndGrades).toEqual({ available: true, lineItemId: first.lineItemId });

    const second = emulator.launch({ resourceLink: { id: 'rl-quiz' }, lineItem: { label: 'Quiz', scoreMaximum: 20 } });
    expect(second.lineItemId).toBe(first.lineItemId);
    expect(emulator.lineItems()).toEqual([
      expect.objectContaining({ id: first.lineItemId, label: 'Quiz', scoreMaximum: 20, resourceId: 'quiz-1', resourceLinkId: 'rl-quiz', contextId: 'course-1' }),
    ]);

    const seeded = emulator.addLineItem('course-1', { label: 'Essay', scoreMaximum: 100 });
    const byId = emulator.launch({ resourceLink: { id: 'rl-essay' }, lineItem: seeded.id });
    expect(byId.lineItemId).toBe(seeded.id);
    const noCoupling = emulator.launch({ resourceLink: { id: 'rl-free' } });
    expect(noCoupling.lineItemId).toBeUndefined();
    expect(noCoupling.idToken).toMatchObject({ services: { assignmentAndGrades: { available: true } } });
    expect(JSON.stringify(noCoupling.idToken)).not.toContain('lineItemId');
    expect(() => emulator.launch({ lineItem: 'https://lms.example.edu/no/such/item' })).toThrow(/does not exist/);
  });
});

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

  it('pages with absolute LMS URLs; ?url= serves that page and ignores every other parameter', async () => {
    const launch = emulator.launch();
    const auth = ltikAuth(launch.ltik);
    const wanted: string[] = [];
    for (let n = 1; n <= 7; n += 1) {
      wanted.push(await createLineItem(launch, { label: `Quiz ${n}`, scoreMaximum: 10, tag: 'quiz' }));
      await createLineItem(launch, { label: `Essay ${n}`, scoreMaximum: 10, tag: 'essay' });
    }

    const first = await call('GET', '/api/lineitems?tag=quiz&limit=3', { auth });
    expect(first.body.lineItems.map((item: { id: string }) => item.id)).toEqual(wanted.slice(0, 3));
    expect(first.body.next).toMatch(/^https:\/\/lms\.example\.edu\/mod\/lti\/services\.php\/\d+\/lineitems\?/);
    expect(first.body.next).toContain('page=2');
    expect(first.body).not.toHaveProperty('prev');
    expect(first.body.first).toContain('page=1');
    expect(first.body.last).toContain('page=3');

    // The other parameters would change the answer if they were not ignored.
    const second = await call('GET', `/api/lineitems?url=${encodeURIComponent(first.body.next)}&tag=essay&limit=1&resourceId=nothing`, { auth });
    expect(second.status).toBe(200);
    expect(second.body.lineItems.map((item: { id: string }) => item.id)).toEqual(wanted.slice(3, 6));
    expect(second.body.prev).toBe(first.body.first);

    const third = await call('GET', `/api/lineitems?url=${encodeURIComponent(second.body.next)}`, { auth });
    expect(third.body.lineItems.map((item: { id: string }) => item.id)).toEqual(wanted.slice(6));
    expect(third.body).not.toHaveProperty('next');
    expect(third.body.prev).toBe(first.body.next);
  });

  it('caps pages at the LMS page size and adds no links when everything fits one page', async () => {
    const small = await startEmulator({ pageSize: 2 });
    try {
      const launch = small.launch();
      const auth = `LTIK-AUTH-V2 ${small.apiKey}:${launch.ltik}`;
      for (const label of ['A', 'B', 'C']) {
        expect((await call('POST', '/api/lineitems', { auth, body: { label, scoreMaximum: 1 } }, small)).status).toBe(201);
      }
      const page = await call('GET', '/api/lineitems?limit=50', { auth }, small);
      expect(page.body.lineItems).toHaveLength(2);
      expect(page.body.next).toContain('limit=2');
      const rest = await call('GET', `/api/lineitems?url=${encodeURIComponent(page.body.next)}`, { auth }, small);
      expect(rest.body.lineItems.map((item: { label: string }) => item.label)).toEqual(['C']);

      const onePage = await call('GET', '/api/lineitems?limit=50', { auth: ltikAuth(emulator.launch().ltik) });
      expect(Object.keys(onePage.body)).toEqual(['lineItems']);
    } finally {
      await small.close();
    }
  });

  it('refuses a bad limit and a url that is not a page of this course', async () => {
    const mine = emulator.launch();
    const theirs = emulator.launch({ context: { id: 'course-2' } });
    const auth = ltikAuth(mine.ltik);
    for (let n = 0; n < 11; n += 1) await createLineItem(theirs, { label: `T${n}`, scoreMaximum: 1 });
    const theirNext = (await call('GET', '/api/lineitems', { auth: ltikAuth(theirs.ltik) })).body.next as string;
    expect(theirNext).toContain('page=2');

    for (const query of [
      '?limit=0',
      '?limit=-1',
      '?limit=abc',
      '?limit=2.5',
      `?url=${encodeURIComponent(theirNext)}`,
      `?url=${encodeURIComponent('not a url')}`,
      `?url=${encodeURIComponent('https://evil.example.com/mod/lti/services.php/2/lineitems?page=2')}`,
    ]) {
      const response = await call('GET', `/api/lineitems${query}`, { auth });
      expect({ query, status: response.status }).toEqual({ query, status: 400 });
      expect(response.body.error).toBe('Bad Request');
    }
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

describe('faults', () => {
  it('answers a scripted status with its headers and an LTIAAS-shaped body, for the given number of calls', async () => {
    const auth = ltikAuth(emulator.launch().ltik);
    emulator.fail({ status: 429, headers: { 'Retry-After': '2' }, times: 2 });
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const limited = await call('GET', '/api/lineitems', { auth });
      expect(limited.status).toBe(429);
      expect(limited.headers.get('retry-after')).toBe('2');
      expect(limited.body).toMatchObject({ status: 429, error: 'Too Many Requests', details: { message: 'TOO_MANY_REQUESTS' } });
    }
    expect((await call('GET', '/api/lineitems', { auth })).status).toBe(200);
    expect(emulator.requests.map((entry) => [entry.status, entry.fault])).toEqual([[429, 'status'], [429, 'status'], [200, undefined]]);
  });

  it('sends a given body as JSON or text, and only for the matching method and path', async () => {
    const launch = emulator.launch();
    const auth = ltikAuth(launch.ltik);
    const item = await createLineItem(launch, { label: 'Quiz', scoreMaximum: 10 });
    emulator.fail({ method: 'post', path: '/api/lineitems/*', status: 502, body: '<html>Bad gateway</html>' });
    emulator.fail({ path: /\/scores$/, status: 503, body: { from: 'proxy' } });

    expect((await call('GET', '/api/lineitems', { auth })).status).toBe(200);
    expect((await call('POST', '/api/lineitems', { auth, body: { label: 'Other', scoreMaximum: 1 } })).status).toBe(201);
    const viaPrefix = await call('POST', scoresPath(item), { auth, body: score(launch.userId) });
    expect([viaPrefix.status, viaPrefix.headers.get('content-type'), viaPrefix.body]).toEqual([502, 'text/plain; charset=utf-8', '<html>Bad gateway</html>']);
    const viaRegExp = await call('GET', scoresPath(item), { auth });
    expect([viaRegExp.status, viaRegExp.body]).toEqual([503, { from: 'proxy' }]);
    expect((await call('GET', scoresPath(item), { auth })).status).toBe(200);
  });

  it('uses the first queued fault that matches, and Infinity lasts until clearFaults()', async () => {
    const auth = ltikAuth(emulator.launch().ltik);
    emulator.fail({ path: '/api/idtoken', status: 500 });
    emulator.fail({ status: 503, times: Infinity });
    emulator.fail({ status: 504 });
    expect((await call('GET', '/api/lineitems', { auth })).status).toBe(503);
    expect((await call('GET', '/api/idtoken', { auth })).status).toBe(500);
    expect((await call('GET', '/api/idtoken', { auth })).status).toBe(503);
    expect((await call('GET', '/api/lineitems', { auth })).status).toBe(503);
    emulator.clearFaults();
    expect((await call('GET', '/api/lineitems', { auth })).status).toBe(200);
  });

  it('applies only to /api/* requests', async () => {
    emulator.fail({ status: 500, times: Infinity });
    expect((await call('GET', '/gradebook')).status).toBe(200);
    expect((await call('GET', '/gradebook.json')).status).toBe(200);
  });

  it('refuses a fault script that cannot work', () => {
    expect(() => emulator.fail({ status: 500, drop: true })).toThrow(/at most one/);
    expect(() => emulator.fail({ times: 0, status: 500 })).toThrow(/times/);
    expect(() => emulator.fail({ path: '/api/lineitems' })).toThrow(/status, drop, dropAnswer, hang or delayMs/);
    expect(() => emulator.fail({ drop: true, dropAnswer: true })).toThrow(/at most one/);
    expect(() => emulator.fail({ status: 99 })).toThrow(/status/);
  });

  it('drops the connection without an answer, then serves the next call normally', async () => {
    const auth = ltikAuth(emulator.launch().ltik);
    emulator.fail({ drop: true });
    await expect(call('GET', '/api/lineitems', { auth })).rejects.toThrow();
    expect((await call('GET', '/api/lineitems', { auth })).status).toBe(200);
    expect(emulator.requests.map((entry) => [entry.status, entry.fault])).toEqual([[null, 'drop'], [200, undefined]]);
  });

  it('acts on a call but loses its answer (dropAnswer)', async () => {
    const launch = emulator.launch({ context: { id: 'lost' } });
    emulator.fail({ method: 'POST', path: '/api/lineitems', dropAnswer: true });
    await expect(call('POST', '/api/lineitems', { auth: ltikAuth(launch.ltik), body: { label: 'Made anyway', scoreMaximum: 5 } })).rejects.toThrow();
    expect(emulator.lineItems({ contextId: 'lost' }).map((item) => item.label)).toEqual(['Made anyway']);
    expect(emulator.requests[0]).toMatchObject({ method: 'POST', status: 201, fault: 'drop' });
  });

  it('delays a call, then answers it normally', async () => {
    const auth = ltikAuth(emulator.launch().ltik);
    emulator.fail({ delayMs: 300 });
    const started = Date.now();
    const response = await call('GET', '/api/lineitems', { auth });
    expect(response.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(emulator.requests[0]).toMatchObject({ status: 200, fault: 'delay' });
    expect(emulator.requests[0]!.durationMs).toBeGreaterThanOrEqual(290);
  });

  it('hangs until the client gives up, logging the hung call at once', async () => {
    const auth = ltikAuth(emulator.launch().ltik);
    emulator.fail({ hang: true });
    const started = Date.now();
    await expect(call('GET', '/api/lineitems', { auth, signal: AbortSignal.timeout(300) })).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(emulator.requests).toEqual([expect.objectContaining({ path: '/api/lineitems', status: null, fault: 'hang' })]);
    expect((await call('GET', '/api/lineitems', { auth })).status).toBe(200);
  });

  it('close() ends a hung call, so that nothing is left running', async () => {
    const hanging = await startEmulator();
    hanging.fail({ hang: true });
    const pending = fetch(`${hanging.url}/api/idtoken`);
    // Wait until the request has arrived, then close while it hangs.
    while (hanging.countRequests() === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    await hanging.close();
    await expect(pending).rejects.toThrow();
  });

  it('adds latency to every /api call, from the options and from setLatency()', async () => {
    const slow = await startEmulator({ latencyMs: 250 });
    try {
      const started = Date.now();
      expect((await call('GET', '/api/idtoken', {}, slow)).status).toBe(401);
      expect(Date.now() - started).toBeGreaterThanOrEqual(240);
    } finally {
      await slow.close();
    }
    emulator.setLatency(250);
    const started = Date.now();
    await call('GET', '/api/idtoken');
    expect(Date.now() - started).toBeGreaterThanOrEqual(240);
    expect(() => emulator.setLatency(-1)).toThrow();
  });
});

describe('reachability', () => {
  it('unreachable() refuses connections; reachable() listens again on the same port with all state kept', async () => {
    const launch = emulator.launch();
    const auth = ltikAuth(launch.ltik);
    const id = await createLineItem(launch, { label: 'Quiz', scoreMaximum: 10 });
    await call('POST', scoresPath(id), { auth, body: score(launch.userId, { scoreGiven: 3 }) });
    const port = emulator.port;

    await emulator.unreachable();
    // A new TCP connection is refused; fetch fails too (on a new or on a just-dropped pooled connection).
    const connectError = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(undefined);
      });
      socket.once('error', resolve);
    });
    expect(connectError?.code).toBe('ECONNREFUSED');
    await expect(call('GET', '/api/lineitems', { auth })).rejects.toThrow();

    await emulator.reachable();
    expect(emulator.port).toBe(port);
    const list = await call('GET', '/api/lineitems', { auth });
    expect(list.status).toBe(200);
    expect(list.body.lineItems.map((item: { id: string }) => item.id)).toEqual([id]);
    expect(emulator.scores(id).map((received) => received.scoreGiven)).toEqual([3]);
  });
});

describe('request log', () => {
  it('records method, raw path, query, auth scheme, status and body of every /api call', async () => {
    const launch = emulator.launch();
    const auth = ltikAuth(launch.ltik);
    const id = await createLineItem(launch, { label: 'Quiz', scoreMaximum: 10 });
    await call('GET', `/api/lineitems?resourceId=quiz-1&limit=5`, { auth: serviceAuth(launch.serviceKey!) });
    await call('GET', '/gradebook');
    const log = emulator.requests;
    expect(log).toEqual([
      {
        at: expect.any(String),
        method: 'POST',
        path: '/api/lineitems',
        query: {},
        authScheme: 'LTIK-AUTH-V2',
        status: 201,
        durationMs: expect.any(Number),
        body: { label: 'Quiz', scoreMaximum: 10 },
      },
      {
        at: expect.any(String),
        method: 'GET',
        path: '/api/lineitems',
        query: { resourceId: 'quiz-1', limit: '5' },
        authScheme: 'SERVICE-AUTH-V1',
        status: 200,
        durationMs: expect.any(Number),
      },
    ]);
    expect(Number.isNaN(Date.parse(log[0]!.at))).toBe(false);

    await call('GET', lineItemPath(id), { auth });
    expect(emulator.requests[2]!.path).toBe(lineItemPath(id));
    expect(emulator.countRequests({ method: 'get' })).toBe(2);
    expect(emulator.countRequests({ path: '/api/lineitems' })).toBe(2);
    expect(emulator.countRequests({ path: '/api/lineitems/*' })).toBe(1);
    expect(emulator.countRequests({ path: /lineitem\?|lineitem%3F/ })).toBe(1);
    expect(emulator.countRequests({ status: 201, authScheme: 'LTIK-AUTH-V2' })).toBe(1);
    expect(emulator.countRequests({ authScheme: 'Bearer' })).toBe(0);

    emulator.requests.pop();
    expect(emulator.requests).toHaveLength(3);
    emulator.clearRequests();
    expect(emulator.requests).toEqual([]);
  });

  it('keeps only the newest logLimit entries', async () => {
    const small = await startEmulator({ logLimit: 3 });
    try {
      for (const limit of ['1', '2', '3', '4', '5']) await call('GET', `/api/lineitems?limit=${limit}`, {}, small);
      expect(small.requests.map((entry) => entry.query.limit)).toEqual(['3', '4', '5']);
    } finally {
      await small.close();
    }
  });

  it('never shows the API key, an ltik or a service key: not in the log, the page, its JSON, or any error body', async () => {
    const launch = emulator.launch({ user: { id: 'student-1' } });
    const other = emulator.launch({ user: { id: 'student-2' }, expired: true });
    const secrets = [emulator.apiKey, launch.ltik, launch.serviceKey!, other.ltik];
    const auth = ltikAuth(launch.ltik);
    const pageUrl = 'https://lms.example.edu/mod/lti/services.php/2/lineitems?page=2';
    const bodies: string[] = [];
    const record = async (pending: Promise<CallResult>): Promise<CallResult> => {
      const response = await pending;
      if (response.status >= 400) bodies.push(response.text);
      return response;
    };

    // Secrets where clients put them by mistake: query strings, paths, bodies.
    const item = (await record(call('POST', '/api/lineitems', { auth, body: { label: `Quiz ${launch.ltik}`, scoreMaximum: 10 } }))).body.id;
    await record(call('POST', scoresPath(item), {
      auth,
      body: score('student-1', { comment: `key ${emulator.apiKey} service ${launch.serviceKey} ltik ${launch.ltik}`, ltik: 'unissued-ltik-value' }),
    }));
    await record(call('GET', `/api/idtoken?ltik=${encodeURIComponent(launch.ltik)}`, { auth: ltikAuth(other.ltik) }));
    await record(call('GET', `/api/idtoken?ltik=unissued-ltik-value&url=${encodeURIComponent(pageUrl)}`, { auth }));
    await record(call('GET', `/api/${launch.ltik}/${launch.serviceKey}`, { auth }));
    await record(call('GET', '/api/lineitems', { auth: ltikAuth(launch.ltik, 'wrong-api-key') }));
    await record(call('GET', '/api/lineitems', { auth: serviceAuth(launch.serviceKey!, 'wrong-api-key') }));
    await record(call('POST', scoresPath(item), { auth, body: score('student-1', { comment: 9, userId: launch.ltik }) }));
    await record(call('POST', `${scoresPath(item)}?ltik=${launch.ltik}`, { auth, body: `{"broken": "${launch.serviceKey}` }));
    expect(bodies.length).toBeGreaterThanOrEqual(6);

    const logText = JSON.stringify(emulator.requests);
    const html = (await call('GET', '/gradebook')).text;
    const json = (await call('GET', '/gradebook.json')).text;
    for (const text of [logText, html, json, ...bodies]) withoutSecrets(text, secrets);
    // The unissued ltik is masked by its parameter name; the url parameter is kept as sent.
    expect(logText).not.toContain('unissued-ltik-value');
    expect(emulator.requests[3]!.query).toEqual({ ltik: '***', url: pageUrl });
    expect(emulator.requests[4]!.path).toBe('/api/***/***');
    expect(logText).toContain('key *** service *** ltik ***');
    expect(html).toContain('Quiz ***');
    expect(html).toContain('key *** service *** ltik ***');
  });
});

describe('grade-book page', () => {
  it('redirects / to /gradebook', async () => {
    const response = await call('GET', '/');
    expect(response.status).toBe(302);
    expect(response.headers.get('location')).toBe('/gradebook');
  });

  it('shows each line item with each user latest score, refreshing itself, with stable hooks', async () => {
    const launch = emulator.launch({ user: { id: 'student-1', name: 'Ada Lovelace' }, context: { id: 'course-1', title: 'Engines' } });
    emulator.launch({ user: { id: 'teacher-1' }, role: 'instructor' });
    const auth = ltikAuth(launch.ltik);
    const id = await createLineItem(launch, { label: 'Quiz 1', scoreMaximum: 10, resourceId: 'quiz-1', tag: 'quiz' });
    await call('POST', scoresPath(id), { auth, body: score('student-1', { scoreGiven: 4, activityProgress: 'Submitted', gradingProgress: 'Pending' }) });
    await call('POST', scoresPath(id), { auth, body: score('student-1', { scoreGiven: 7, comment: 'Good', timestamp: '2099-01-01T00:00:00.000Z' }) });

    const response = await call('GET', '/gradebook');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const html = response.text;
    expect(html).toContain('<meta http-equiv="refresh" content="2">');
    expect(html).toContain(`<section class="line-item" data-line-item-id="${id}">`);
    expect(html).toContain('<code>quiz-1</code>');
    expect(html).toContain('Engines');
    const row = /<tr data-user-id="student-1">.*?<\/tr>/s.exec(html)?.[0] ?? '';
    expect(row).toContain('<td class="score">7 / 10</td>');
    expect(row).toContain('<td class="activity-progress">Completed</td>');
    expect(row).toContain('<td class="grading-progress">FullyGraded</td>');
    expect(row).toContain('<td class="comment">Good</td>');
    expect(row).toContain('<td class="timestamp">2099-01-01T00:00:00.000Z</td>');
    expect(row).toContain('<td class="score-count">2</td>');
    expect(row).toContain('Ada Lovelace');
    const teacherRow = /<tr data-user-id="teacher-1">.*?<\/tr>/s.exec(html)?.[0] ?? '';
    expect(teacherRow).toContain('<td class="score">—</td>');
    expect(teacherRow).toContain('not gradable');
    expect(html).toMatch(/<tr class="request">.*POST.*LTIK-AUTH-V2.*204/s);
    // Nothing loaded from anywhere.
    expect(html).not.toMatch(/<script|<link|src=|url\(/i);
  });

  it('escapes everything clients and tests put in it', async () => {
    const launch = emulator.launch({ user: { id: `o'brien<1>` }, context: { id: 'c&1', title: '<i>Course</i>' } });
    const auth = ltikAuth(launch.ltik);
    const id = await createLineItem(launch, { label: '<script>alert("x")</script> & co', scoreMaximum: 10, tag: '"><img>' });
    await call('POST', scoresPath(id), { auth, body: score(launch.userId, { comment: '</td><b>bold</b>' }) });
    const html = (await call('GET', '/gradebook')).text;
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co');
    expect(html).toContain('data-user-id="o&#39;brien&lt;1&gt;"');
    expect(html).toContain('&lt;/td&gt;&lt;b&gt;bold&lt;/b&gt;');
    expect(html).toContain('&quot;&gt;&lt;img&gt;');
    expect(html).toContain('&lt;i&gt;Course&lt;/i&gt;');
    expect(html).toContain('data-context-id="c&amp;1"');
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<b>bold');
    expect(html).not.toContain('<img>');
  });

  it('serves the same data as JSON', async () => {
    const launch = emulator.launch({ user: { id: 'student-1' } });
    const id = await createLineItem(launch, { label: 'Quiz', scoreMaximum: 10, resourceId: 'quiz-1' });
    await call('POST', scoresPath(id), { auth: ltikAuth(launch.ltik), body: score('student-1', { scoreGiven: 0 }) });
    const view = (await call('GET', '/gradebook.json')).body;
    expect(view.contexts).toEqual([
      expect.objectContaining({
        platformId: 'platform-1',
        contextId: 'course-1',
        lineItems: [
          expect.objectContaining({
            id,
            label: 'Quiz',
            resourceId: 'quiz-1',
            users: [expect.objectContaining({ userId: 'student-1', scoresReceived: 1, latest: expect.objectContaining({ scoreGiven: 0, scoreMaximum: 10 }) })],
          }),
        ],
      }),
    ]);
    expect(view.requests.map((request: { method: string; status: number }) => [request.method, request.status])).toEqual([['POST', 201], ['POST', 204]]);
  });
});

describe('connections', () => {
  function getWithAgent(path: string, agent: Agent, headers: Record<string, string> = {}): Promise<number> {
    return new Promise((resolve, reject) => {
      const request = httpRequest(`${emulator.url}${path}`, { agent, headers }, (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      });
      request.on('error', reject);
      request.end();
    });
  }

  it('keeps connections alive, and counts every new one', async () => {
    const auth = ltikAuth(emulator.launch().ltik);
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
    const oneShot = new Agent({ keepAlive: false });
    try {
      for (let n = 0; n < 5; n += 1) expect(await getWithAgent('/api/lineitems', keepAlive, { authorization: auth })).toBe(200);
      expect(emulator.connectionCount).toBe(1);
      // Without keep-alive every call is a connection: proves the count counts.
      for (let n = 0; n < 3; n += 1) {
        expect(await getWithAgent('/api/lineitems', oneShot, { authorization: auth, connection: 'close' })).toBe(200);
      }
      expect(emulator.connectionCount).toBe(4);
    } finally {
      keepAlive.destroy();
      oneShot.destroy();
    }
  });

  it('lets fetch reuse its connections', async () => {
    const auth = ltikAuth(emulator.launch().ltik);
    for (let n = 0; n < 10; n += 1) expect((await call('GET', '/api/lineitems', { auth })).status).toBe(200);
    // undici may open a second connection while the first is being released; never one per call.
    expect(emulator.connectionCount).toBeLessThanOrEqual(2);
    const before = emulator.connectionCount;
    emulator.fail({ drop: true });
    await expect(call('GET', '/api/lineitems', { auth })).rejects.toThrow();
    expect((await call('GET', '/api/lineitems', { auth })).status).toBe(200);
    expect(emulator.connectionCount).toBeGreaterThan(before);
  });
});
