// Each LTIAAS call made once per need: the call budgets, keep-alive, and bounded caches.
import request from 'supertest';
import express from 'express';
import { quizApp, startHarness, type Harness } from './helpers/harness';

describe('LTIAAS call budget', () => {
  let harness: Harness;
  afterEach(() => harness.close());

  it('5 re-submits in one launch cost at most 8 calls (1 ID token, 1 find, 1 create, 5 scores)', async () => {
    harness = await startHarness();
    const app = quizApp(express, harness.grades);
    const launch = harness.emulator.launch({ context: { id: 'budget-1' } });
    for (let i = 0; i < 5; i++) {
      await request(app).post(`/quiz/3/finish?ltik=${launch.ltik}`).send({ answers: ['b'] }).expect(200);
    }
    expect(harness.emulator.requests.length).toBeLessThanOrEqual(8);
    expect(harness.emulator.countRequests({ path: /\/scores$/ })).toBe(5);
    // Each re-submit is a newer score: all five kept, timestamps strictly increasing.
    const [item] = harness.emulator.lineItems({ contextId: 'budget-1' });
    const stamps = harness.emulator.scores(item!.id).map((s) => Date.parse(s.timestamp as string));
    expect(stamps).toHaveLength(5);
    for (let i = 1; i < stamps.length; i++) expect(stamps[i]!).toBeGreaterThan(stamps[i - 1]!);
  });

  it('50 students in one context cost at most 2.04 calls per grade, over a few kept-alive connections', async () => {
    harness = await startHarness();
    const app = quizApp(express, harness.grades);
    const launches = Array.from({ length: 50 }, (_, i) => harness.emulator.launch({ user: { id: `student-${i}` }, context: { id: 'budget-50' } }));
    for (const launch of launches) {
      await request(app).post(`/quiz/5/finish?ltik=${launch.ltik}`).send({ answers: ['b', 'b'] }).expect(200);
    }
    const calls = harness.emulator.requests.length;
    expect(calls / 50).toBeLessThanOrEqual(2.04);
    expect(harness.emulator.countRequests({ method: 'POST', path: '/api/lineitems' })).toBe(1);
    expect(harness.emulator.connectionCount).toBeLessThanOrEqual(2);
  });

  it('bounds the ID token cache: the least recently used ltik is fetched again, recent ones are not', async () => {
    harness = await startHarness({ cache: { idTokens: { max: 10 } } });
    const launches = Array.from({ length: 30 }, () => harness.emulator.launch());
    for (const launch of launches) await harness.grades.forLaunch(launch.ltik).idToken();
    expect(harness.emulator.countRequests({ path: '/api/idtoken' })).toBe(30);
    await harness.grades.forLaunch(launches[29]!.ltik).idToken();
    expect(harness.emulator.countRequests({ path: '/api/idtoken' })).toBe(30);
    await harness.grades.forLaunch(launches[0]!.ltik).idToken();
    expect(harness.emulator.countRequests({ path: '/api/idtoken' })).toBe(31);
  });

  it('does not cache a failed ID token fetch', async () => {
    harness = await startHarness();
    const launch = harness.emulator.launch();
    harness.emulator.fail({ path: '/api/idtoken', status: 503 });
    await expect(harness.grades.forLaunch(launch.ltik).idToken()).rejects.toMatchObject({ code: 'LTIAAS_UNAVAILABLE' });
    await expect(harness.grades.forLaunch(launch.ltik).idToken()).resolves.toMatchObject({ user: { id: launch.userId } });
  });
});
