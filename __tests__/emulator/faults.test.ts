// The emulator's scripted faults (statuses, bodies, drops, delays, hangs, latency) and unreachable()/reachable().
import { connect } from 'node:net';
import { startEmulator } from 'express-ltiaas-grades/testing';
import { emulator, useFreshEmulator, call, ltikAuth, scoresPath, score, createLineItem } from './emulatorTest';

useFreshEmulator();

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
