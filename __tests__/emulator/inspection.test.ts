// What a test can inspect in the emulator: the request log, the grade-book page and its JSON, kept-alive connections.
import { Agent, request as httpRequest } from 'node:http';
import { startEmulator } from 'express-ltiaas-grades/testing';
import { emulator, useFreshEmulator, call, ltikAuth, serviceAuth, lineItemPath, scoresPath, score, createLineItem, withoutSecrets, type CallResult } from './emulatorTest';

useFreshEmulator();

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
