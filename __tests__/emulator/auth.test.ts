// The emulator's authentication: its options and API key, the ltik and service-key schemes, expiry, and GET /api/idtoken.
import { startEmulator } from 'express-ltiaas-grades/testing';
import { LEARNER, INSTRUCTOR, DOCUMENTED_401, emulator, useFreshEmulator, call, ltikAuth, serviceAuth, lineItemPath, scoresPath, score, createLineItem } from './emulatorTest';

useFreshEmulator();

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
