// The emulator answers as LTIAAS does where the official SDK can tell: resource-link-bound line items, the raw ID token, the roster.
import { startEmulator, type LtiaasEmulator } from 'express-ltiaas-grades/testing';

const LTI = 'https://purl.imsglobal.org/spec/lti/claim';
const AGS_ENDPOINT = 'https://purl.imsglobal.org/spec/lti-ags/claim/endpoint';
const NRPS_SERVICE = 'https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice';
const LEARNER = 'http://purl.imsglobal.org/vocab/lis/v2/membership#Learner';
const INSTRUCTOR = 'http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor';
const SERVICE_OFF = { status: 403, error: 'Forbidden', details: { message: 'SERVICE_NOT_AVAILABLE_FOR_CONTEXT' } };
const LMS_NOT_FOUND = { status: 404, error: 'Not Found', details: { message: 'EXTERNAL_PLATFORM_ERROR', externalError: true, bodyReceived: 'Not Found' } };

let emulator: LtiaasEmulator;

beforeEach(async () => {
  emulator = await startEmulator();
});

afterEach(async () => {
  await emulator.close();
});

interface CallResult {
  status: number;
  text: string;
  // Tests read arbitrary JSON fields; a wrong field fails the assertion anyway.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

async function call(method: string, path: string, auth: string | undefined, body?: unknown): Promise<CallResult> {
  const headers: Record<string, string> = auth === undefined ? {} : { authorization: auth };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${emulator.url}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await response.text();
  return { status: response.status, text, body: text === '' ? undefined : JSON.parse(text) };
}

const ltikAuth = (ltik: string): string => `LTIK-AUTH-V2 ${emulator.apiKey}:${ltik}`;
const serviceAuth = (serviceKey: string): string => `SERVICE-AUTH-V1 ${emulator.apiKey}:${serviceKey}`;

describe('POST /api/lineitems with a resourceLinkId', () => {
  it('answers 404 from the LMS for a resource link the course does not have, and creates nothing', async () => {
    const launch = emulator.launch({ context: { id: 'course-1' }, resourceLink: { id: 'rl-quiz' } });
    // A resource link that exists, but in another course.
    emulator.launch({ context: { id: 'course-2' }, resourceLink: { id: 'rl-elsewhere' } });
    for (const auth of [ltikAuth(launch.ltik), serviceAuth(launch.serviceKey!)]) {
      for (const resourceLinkId of ['rl-never-placed', 'rl-elsewhere']) {
        const response = await call('POST', '/api/lineitems', auth, { label: 'Quiz', scoreMaximum: 10, resourceLinkId });
        expect({ resourceLinkId, status: response.status }).toEqual({ resourceLinkId, status: 404 });
        expect(response.body).toMatchObject(LMS_NOT_FOUND);
        expect(response.text).not.toContain(resourceLinkId);
      }
    }
    expect(emulator.lineItems()).toEqual([]);
  });

  it('creates (201) a line item bound to a resource link of the course: launched from, or bound by a teacher', async () => {
    const launch = emulator.launch({ resourceLink: { id: 'rl-quiz' } });
    emulator.launch({ resourceLink: { id: 'rl-lab' }, user: { id: 'someone-else' } });
    emulator.addLineItem('course-1', { label: 'Essay', scoreMaximum: 20, resourceLinkId: 'rl-essay' });
    for (const resourceLinkId of ['rl-quiz', 'rl-lab', 'rl-essay']) {
      const response = await call('POST', '/api/lineitems', ltikAuth(launch.ltik), { label: resourceLinkId, scoreMaximum: 10, resourceLinkId });
      expect({ resourceLinkId, status: response.status }).toEqual({ resourceLinkId, status: 201 });
      expect(response.body.resourceLinkId).toBe(resourceLinkId);
    }
    // Without a resourceLinkId the column is bound to nothing, which every course allows.
    expect((await call('POST', '/api/lineitems', ltikAuth(launch.ltik), { label: 'Free', scoreMaximum: 1 })).status).toBe(201);
  });

  it('checks the body first: an invalid body with an unknown resource link is a 400', async () => {
    const launch = emulator.launch();
    const response = await call('POST', '/api/lineitems', ltikAuth(launch.ltik), { label: '', scoreMaximum: 10, resourceLinkId: 'rl-unknown' });
    expect(response.status).toBe(400);
    expect(response.body.details.message).toBe('INVALID_BODY_PARAMETERS');
  });
});

describe('GET /api/idtoken?raw=true', () => {
  it('returns the LTI 1.3 claims as the LMS sent them, with the AGS endpoint claim', async () => {
    const launch = emulator.launch({
      user: { id: 'ada', name: 'Ada Lovelace', email: 'ada@example.edu' },
      context: { id: 'course-7', title: 'Analytical Engines', label: 'AE-101' },
      resourceLink: { id: 'rl-7', title: 'Quiz 7' },
      lineItem: { label: 'Quiz 7', scoreMaximum: 7 },
    });
    const response = await call('GET', '/api/idtoken?raw=true', ltikAuth(launch.ltik));
    expect(response.status).toBe(200);
    const raw = response.body;
    const { idToken } = launch;
    expect(raw).toMatchObject({
      iss: idToken.platform.url,
      sub: 'ada',
      aud: idToken.platform.clientId,
      nonce: expect.stringMatching(/^[0-9a-f]{32}$/),
      name: 'Ada Lovelace',
      given_name: 'Ada',
      family_name: 'Lovelace',
      email: 'ada@example.edu',
      ltiVersion: '1.3.0',
      [`${LTI}/message_type`]: 'LtiResourceLinkRequest',
      [`${LTI}/version`]: '1.3.0',
      [`${LTI}/deployment_id`]: idToken.platform.deploymentId,
      [`${LTI}/target_link_uri`]: idToken.launch.target,
      [`${LTI}/roles`]: [LEARNER],
      [`${LTI}/context`]: { id: 'course-7', title: 'Analytical Engines', label: 'AE-101', type: idToken.launch.context.type },
      [`${LTI}/resource_link`]: { id: 'rl-7', title: 'Quiz 7' },
      [`${LTI}/tool_platform`]: { product_family_code: 'moodle' },
      [AGS_ENDPOINT]: {
        lineitems: expect.stringMatching(/^https:\/\/lms\.example\.edu\/mod\/lti\/services\.php\/\d+\/lineitems\?type_id=1$/),
        lineitem: launch.lineItemId,
      },
    });
    expect(raw.iat).toEqual(expect.any(Number));
    expect(raw.exp).toBeGreaterThan(raw.iat);
    expect(raw[AGS_ENDPOINT].scope).toEqual(expect.arrayContaining(['https://purl.imsglobal.org/spec/lti-ags/scope/score']));
    // The LMS's claims, not LTIAAS's formatting: no formatted section, no service key (LTIAAS's own).
    for (const formatted of ['user', 'platform', 'launch', 'services']) expect(raw).not.toHaveProperty(formatted);
    expect(response.text).not.toContain(launch.serviceKey!);
    expect(raw).not.toHaveProperty(NRPS_SERVICE);
  });

  it('has no AGS claim when the LMS did not grant grades, and the NRPS claim when it granted the roster', async () => {
    const launch = emulator.launch({ grades: false, namesAndRoles: true });
    const raw = (await call('GET', '/api/idtoken?raw=true', ltikAuth(launch.ltik))).body;
    expect(raw).not.toHaveProperty(AGS_ENDPOINT);
    expect(raw[NRPS_SERVICE]).toEqual({
      context_memberships_url: expect.stringMatching(/^https:\/\/lms\.example\.edu\/mod\/lti\/services\.php\/CourseSection\/\d+\/bindings\/1\/memberships$/),
      service_versions: ['2.0'],
    });
  });

  it('returns the formatted token without raw or with raw=false, and refuses any other value with 400', async () => {
    const launch = emulator.launch();
    expect((await call('GET', '/api/idtoken', ltikAuth(launch.ltik))).body).toEqual(launch.idToken);
    expect((await call('GET', '/api/idtoken?raw=false', ltikAuth(launch.ltik))).body).toEqual(launch.idToken);
    const bad = await call('GET', '/api/idtoken?raw=yes', ltikAuth(launch.ltik));
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ status: 400, error: 'Bad Request', details: { message: 'INVALID_QUERY_PARAMETERS' } });
  });

  it('still takes only an ltik: a service key gets 401', async () => {
    const launch = emulator.launch();
    expect((await call('GET', '/api/idtoken?raw=true', serviceAuth(launch.serviceKey!))).status).toBe(401);
  });
});

describe('GET /api/memberships', () => {
  it('answers 403 SERVICE_NOT_AVAILABLE_FOR_CONTEXT when the launch did not come with the roster service', async () => {
    const launch = emulator.launch();
    expect(launch.idToken.services.namesAndRoles).toEqual({ available: false });
    for (const auth of [ltikAuth(launch.ltik), serviceAuth(launch.serviceKey!)]) {
      const response = await call('GET', '/api/memberships', auth);
      expect(response.status).toBe(403);
      expect(response.body).toMatchObject(SERVICE_OFF);
    }
  });

  it('serves the course roster, in the LTIAAS shape, when the launch came with it', async () => {
    const launch = emulator.launch({
      namesAndRoles: true,
      user: { id: 'ada', name: 'Ada Lovelace', email: 'ada@example.edu' },
      context: { id: 'course-9', title: 'Engines', label: 'E-1' },
    });
    expect(launch.idToken.services.namesAndRoles).toEqual({ available: true });
    emulator.enroll('course-9', { id: 'grace', role: 'instructor', name: 'Grace Hopper' });
    emulator.enroll('course-9', { id: 'alan' });
    // Someone in another course is not on this roster.
    emulator.enroll('course-10', { id: 'stranger' });

    const response = await call('GET', '/api/memberships?limit=2', ltikAuth(launch.ltik));
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      id: expect.stringMatching(/^https:\/\/lms\.example\.edu\/mod\/lti\/services\.php\/CourseSection\/\d+\/bindings\/1\/memberships\?page=1&limit=2$/),
      context: { id: 'course-9', title: 'Engines', label: 'E-1' },
      members: [
        { userId: 'ada', roles: [LEARNER], status: 'Active', name: 'Ada Lovelace', givenName: 'Ada', familyName: 'Lovelace', email: 'ada@example.edu' },
        { userId: 'grace', roles: [INSTRUCTOR], status: 'Active', name: 'Grace Hopper', givenName: 'Grace', familyName: 'Hopper' },
      ],
      next: expect.stringContaining('page=2'),
      first: expect.stringContaining('page=1'),
      last: expect.stringContaining('page=2'),
    });

    // The next page through ?url=, other parameters ignored.
    const next = await call('GET', `/api/memberships?role=Instructor&url=${encodeURIComponent(response.body.next)}`, ltikAuth(launch.ltik));
    expect(next.status).toBe(200);
    expect(next.body.members).toEqual([{ userId: 'alan', roles: [LEARNER], status: 'Active' }]);
    expect(next.body).not.toHaveProperty('next');
  });

  it('filters by role, in full or by its short name, and by a resource link of the course', async () => {
    const launch = emulator.launch({ namesAndRoles: true, user: { id: 'ada' }, resourceLink: { id: 'rl-1' } });
    emulator.enroll('course-1', { id: 'grace', role: 'instructor' });
    emulator.enroll('course-1', { id: 'alan', roles: ['Learner'] });
    const userIds = async (query: string): Promise<string[]> => {
      const response = await call('GET', `/api/memberships${query}`, serviceAuth(launch.serviceKey!));
      expect({ query, status: response.status }).toEqual({ query, status: 200 });
      return response.body.members.map((member: { userId: string }) => member.userId);
    };
    expect(await userIds('?role=Learner')).toEqual(['ada', 'alan']);
    expect(await userIds(`?role=${encodeURIComponent(LEARNER)}`)).toEqual(['ada', 'alan']);
    expect(await userIds(`?role=${encodeURIComponent(INSTRUCTOR)}`)).toEqual(['grace']);
    // Everyone in the emulated course can reach each of its activities.
    expect(await userIds('?resourceLinkId=rl-1')).toEqual(['ada', 'grace', 'alan']);

    const unknownLink = await call('GET', '/api/memberships?resourceLinkId=rl-nowhere', ltikAuth(launch.ltik));
    expect(unknownLink.status).toBe(404);
    expect(unknownLink.body).toMatchObject(LMS_NOT_FOUND);
  });

  it('gives a roster-only launch a service key that reads the roster but not the grade book', async () => {
    const launch = emulator.launch({ grades: false, namesAndRoles: true, resourceLink: { id: 'rl-roster' } });
    expect(launch.serviceKey).toEqual(expect.any(String));
    expect(launch.idToken.services.serviceKey).toBe(launch.serviceKey);
    expect((await call('GET', '/api/memberships', serviceAuth(launch.serviceKey!))).status).toBe(200);
    const lineItems = await call('GET', '/api/lineitems', serviceAuth(launch.serviceKey!));
    expect(lineItems.status).toBe(403);
    expect(lineItems.body).toMatchObject(SERVICE_OFF);
  });

  it('authenticates as the other service endpoints do, and answers only GET', async () => {
    const launch = emulator.launch({ namesAndRoles: true });
    expect((await call('GET', '/api/memberships', undefined)).status).toBe(401);
    expect((await call('GET', '/api/memberships', `Bearer ${emulator.apiKey}`)).status).toBe(401);
    const post = await call('POST', '/api/memberships', ltikAuth(launch.ltik), {});
    expect(post.status).toBe(404);
    expect(post.body.details.message).toBe('ROUTE_NOT_FOUND');
  });
});
