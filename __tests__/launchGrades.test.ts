// req.lti.grades against the emulator: ID token caching, line item CRUD, paging, encoding, find-or-create, read-back.
import { isLtiaasGradesError } from 'express-ltiaas-grades';
import { startHarness, type Harness, expectNoLtiaasCalls } from './helpers/harness';

describe('launch grades helper', () => {
  let harness: Harness;
  beforeEach(async () => {
    harness = await startHarness();
  });
  afterEach(() => harness.close());

  it('fetches the ID token once per ltik, even for concurrent callers', async () => {
    const launch = harness.emulator.launch({ user: { id: 'u-1', name: 'Ada' } });
    const grades = harness.grades.forLaunch(launch.ltik);
    const [a, b] = await Promise.all([grades.idToken(), grades.idToken()]);
    expect(a.user).toMatchObject({ id: 'u-1', name: 'Ada' });
    expect(b).toBe(a);
    expect(await grades.isAvailable()).toBe(true);
    expect(await grades.serviceKey()).toBe(launch.serviceKey);
    // A second helper for the same ltik (the next request of this launch) shares the cache.
    await harness.grades.forLaunch(launch.ltik).idToken();
    expect(harness.emulator.countRequests({ path: '/api/idtoken' })).toBe(1);
  });

  it('sends the V2 ltik scheme', async () => {
    const launch = harness.emulator.launch();
    await harness.grades.forLaunch(launch.ltik).idToken();
    expect(harness.emulator.requests[0]!.authScheme).toBe('LTIK-AUTH-V2');
  });

  it('fails every method with LTIK_MISSING when the launch has no ltik, without a call', async () => {
    const grades = harness.grades.forLaunch(undefined as unknown as string);
    for (const call of [() => grades.idToken(), () => grades.lineItems.list(), () => grades.submit({ scoreGiven: 1, scoreMaximum: 1 })]) {
      await expect(call()).rejects.toMatchObject({ code: 'LTIK_MISSING', status: 401 });
    }
    await expectNoLtiaasCalls(harness.emulator);
  });

  it('creates, reads, updates and deletes line items, encoding each id exactly once', async () => {
    const launch = harness.emulator.launch({ context: { id: 'crud' } });
    const { lineItems } = harness.grades.forLaunch(launch.ltik);
    const created = await lineItems.create({ label: 'Essay', scoreMaximum: 20, resourceId: 'essay-1', tag: 'final' });
    // Moodle-style ids carry a query string: a path that is not encoded exactly once misses them.
    expect(created.id).toMatch(/^https:\/\/.+\?/);
    expect(await lineItems.get(created.id)).toMatchObject({ id: created.id, label: 'Essay', scoreMaximum: 20 });
    const updated = await lineItems.update(created.id, { label: 'Essay (revised)', scoreMaximum: 25, resourceId: 'essay-1', tag: 'final' });
    expect(updated).toMatchObject({ label: 'Essay (revised)', scoreMaximum: 25 });
    await lineItems.delete(created.id);
    await expect(lineItems.get(created.id)).rejects.toMatchObject({ code: 'LTIAAS_REJECTED', upstream: { status: 404 } });
    const paths = harness.emulator.requests.filter((r) => r.path.startsWith('/api/lineitems/')).map((r) => r.path);
    expect(paths.length).toBeGreaterThanOrEqual(4);
    for (const path of paths) expect(path).toMatch(`/api/lineitems/${encodeURIComponent(created.id)}`);
  });

  it('validates before sending: a blank label or a zero maximum sends nothing', async () => {
    const launch = harness.emulator.launch();
    const { lineItems } = harness.grades.forLaunch(launch.ltik);
    await expect(lineItems.create({ label: '  ', scoreMaximum: 10 })).rejects.toMatchObject({ code: 'LINE_ITEM_INVALID' });
    await expect(lineItems.create({ label: 'X', scoreMaximum: 0 })).rejects.toMatchObject({ code: 'LINE_ITEM_INVALID' });
    await expect(lineItems.list({ limit: 0 })).rejects.toMatchObject({ code: 'LINE_ITEM_INVALID' });
    await expectNoLtiaasCalls(harness.emulator);
  });

  it('lists one page with its next link, and follows next via ?url= to the end', async () => {
    const launch = harness.emulator.launch({ context: { id: 'paged' } });
    for (let i = 1; i <= 8; i++) harness.emulator.addLineItem('paged', { label: `Item ${i}`, scoreMaximum: i, resourceId: `r-${i}` });
    const { lineItems } = harness.grades.forLaunch(launch.ltik);
    const first = await lineItems.list({ limit: 2 });
    expect(first.lineItems).toHaveLength(2);
    expect(first.next).toMatch(/^https:\/\//);
    const second = await lineItems.list({ url: first.next! });
    expect(second.lineItems.map((item) => item.label)).toEqual(['Item 3', 'Item 4']);

    harness.emulator.clearRequests();
    const all = await lineItems.listAll();
    expect(all.map((item) => item.label)).toEqual(['Item 1', 'Item 2', 'Item 3', 'Item 4', 'Item 5', 'Item 6', 'Item 7', 'Item 8']);
    const pageCalls = harness.emulator.requests.filter((r) => r.path === '/api/lineitems');
    expect(pageCalls).toHaveLength(3); // page size 3
    expect(pageCalls.slice(1).every((r) => Object.keys(r.query).join() === 'url')).toBe(true);
  });

  it('finds an existing column by resourceId and tag instead of creating one', async () => {
    const launch = harness.emulator.launch({ context: { id: 'found' } });
    harness.emulator.addLineItem('found', { label: 'Quiz 1 (draft)', scoreMaximum: 5, resourceId: 'quiz-1', tag: 'draft' });
    const existing = harness.emulator.addLineItem('found', { label: 'Renamed by the teacher', scoreMaximum: 10, resourceId: 'quiz-1', tag: 'final' });
    const grades = harness.grades.forLaunch(launch.ltik);
    const item = await grades.findOrCreateLineItem({ resourceId: 'quiz-1', tag: 'final', label: 'Quiz 1', scoreMaximum: 10 });
    expect(item.id).toBe(existing.id);
    expect(harness.emulator.countRequests({ method: 'POST', path: '/api/lineitems' })).toBe(0);
  });

  it('follows next pages of a filtered list, asking for them by url alone', async () => {
    const launch = harness.emulator.launch({ context: { id: 'filtered' } });
    for (let i = 1; i <= 7; i++) harness.emulator.addLineItem('filtered', { label: `Q${i}`, scoreMaximum: 1, resourceId: 'quiz', tag: `v${i}` });
    harness.emulator.addLineItem('filtered', { label: 'Other', scoreMaximum: 1, resourceId: 'other' });
    const all = await harness.grades.forLaunch(launch.ltik).lineItems.listAll({ resourceId: 'quiz' });
    expect(all.map((item) => item.label)).toEqual(['Q1', 'Q2', 'Q3', 'Q4', 'Q5', 'Q6', 'Q7']);
    // LTIAAS ignores other parameters next to `url`; sending them anyway would hide a paging bug.
    const pages = harness.emulator.requests.filter((r) => r.path === '/api/lineitems');
    expect(pages).toHaveLength(3);
    expect(pages[0]!.query).toEqual({ resourceId: 'quiz' });
    for (const page of pages.slice(1)) expect(Object.keys(page.query)).toEqual(['url']);
  });

  it('finds a column among many with the same resourceId', async () => {
    const launch = harness.emulator.launch({ context: { id: 'deep' } });
    for (let i = 1; i <= 7; i++) harness.emulator.addLineItem('deep', { label: `Q${i}`, scoreMaximum: 1, resourceId: 'quiz', tag: `v${i}` });
    const item = await harness.grades.forLaunch(launch.ltik).findOrCreateLineItem({ resourceId: 'quiz', tag: 'v7', label: 'Q7', scoreMaximum: 1 });
    expect(item.label).toBe('Q7');

    expect(harness.emulator.countRequests({ method: 'POST', path: '/api/lineitems' })).toBe(0);
  });

  it('creates exactly one column when a fresh context\'s first submissions arrive together', async () => {
    const launches = Array.from({ length: 20 }, (_, i) => harness.emulator.launch({ user: { id: `s-${i}` }, context: { id: 'fresh' } }));
    const spec = { resourceId: 'lab-1', label: 'Lab 1', scoreMaximum: 10 };
    const outcomes = await Promise.all(
      launches.map((launch, i) => harness.grades.forLaunch(launch.ltik).submit({ scoreGiven: i % 11, scoreMaximum: 10 }, { lineItem: spec })),
    );
    const columns = harness.emulator.lineItems({ contextId: 'fresh' });
    expect(columns).toHaveLength(1);
    expect(harness.emulator.countRequests({ method: 'POST', path: '/api/lineitems' })).toBe(1);
    expect(new Set(outcomes.map((o) => o.status === 'submitted' && o.lineItemId))).toEqual(new Set([columns[0]!.id]));
    expect(harness.emulator.scores(columns[0]!.id)).toHaveLength(20);
  });

  it('keeps separate columns per context and per tag', async () => {
    const a = harness.emulator.launch({ context: { id: 'ctx-a' } });
    const b = harness.emulator.launch({ context: { id: 'ctx-b' } });
    const spec = { resourceId: 'quiz-9', label: 'Quiz 9', scoreMaximum: 10 };
    await harness.grades.forLaunch(a.ltik).submit({ scoreGiven: 1, scoreMaximum: 10 }, { lineItem: spec });
    harness.emulator.clearRequests();
    await harness.grades.forLaunch(b.ltik).submit({ scoreGiven: 1, scoreMaximum: 10 }, { lineItem: spec });
    // Context b resolves its own column: it never tries context a's (which would answer 404).
    expect(harness.emulator.requests.filter((r) => r.status === 404)).toEqual([]);
    expect(harness.emulator.countRequests({ method: 'POST', path: '/api/lineitems' })).toBe(1);
    expect(harness.emulator.countRequests({ method: 'POST', path: /\/scores$/ })).toBe(1);
    await harness.grades.forLaunch(b.ltik).submit({ scoreGiven: 1, scoreMaximum: 10 }, { lineItem: { ...spec, tag: 'retake' } });
    expect(harness.emulator.lineItems({ contextId: 'ctx-a' })).toHaveLength(1);
    expect(harness.emulator.lineItems({ contextId: 'ctx-b' }).map((item) => item.tag ?? null).sort()).toEqual([null, 'retake']);
  });

  it('reads results back, following pages', async () => {
    const spec = { resourceId: 'quiz-r', label: 'Quiz R', scoreMaximum: 4 };
    const launches = Array.from({ length: 5 }, (_, i) => harness.emulator.launch({ user: { id: `r-${i}` }, context: { id: 'read' } }));
    for (const [i, launch] of launches.entries()) {
      await harness.grades.forLaunch(launch.ltik).submit({ scoreGiven: i, scoreMaximum: 4 }, { lineItem: spec });
    }
    const grades = harness.grades.forLaunch(launches[0]!.ltik);
    const item = await grades.findOrCreateLineItem(spec);
    const all = await grades.scores(item.id);
    expect(all.map((r) => [r.userId, r.resultScore]).sort()).toEqual([['r-0', 0], ['r-1', 1], ['r-2', 2], ['r-3', 3], ['r-4', 4]]);
    const mine = await grades.scores(item.id, { userId: 'r-3' });
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ userId: 'r-3', resultScore: 3, resultMaximum: 4 });
  });

  it('sends the validated copy, never mutating the caller\'s score or spec', async () => {
    const launch = harness.emulator.launch({ context: { id: 'frozen' } });
    const score = Object.freeze({ scoreGiven: 3, scoreMaximum: 4 });
    const spec = Object.freeze({ resourceId: 'quiz-f', label: '  Quiz F  ', scoreMaximum: 4 });
    await harness.grades.forLaunch(launch.ltik).submit(score, { lineItem: spec });
    const [item] = harness.emulator.lineItems({ contextId: 'frozen' });
    expect(item!.label).toBe('Quiz F');
    expect(harness.emulator.scores(item!.id)[0]).toMatchObject({ activityProgress: 'Completed', gradingProgress: 'FullyGraded' });
    expect(score).toEqual({ scoreGiven: 3, scoreMaximum: 4 });
  });

  it('refuses a live submission whose ltik LTIAAS now rejects, even with its service key known', async () => {
    const launch = harness.emulator.launch({ lineItem: { label: 'Lab', scoreMaximum: 10 } });
    const grades = harness.grades.forLaunch(launch.ltik);
    expect(await grades.serviceKey()).toBe(launch.serviceKey);
    harness.emulator.expireLtik(launch.ltik);
    await expect(grades.submit({ scoreGiven: 5, scoreMaximum: 10 })).rejects.toMatchObject({ code: 'LTIK_INVALID', status: 401 });
    expect(harness.emulator.scores(launch.lineItemId!)).toEqual([]);
    expect(harness.emulator.countRequests({ authScheme: 'SERVICE-AUTH-V1' })).toBe(0);
  });

  it('sends the validated score: dates normalised to UTC on the wire', async () => {
    const launch = harness.emulator.launch({ lineItem: { label: 'Lab', scoreMaximum: 2 } });
    await harness.grades.forLaunch(launch.ltik).submit({ scoreGiven: 1, scoreMaximum: 2, submission: { startedAt: '2026-11-27T07:00:00+01:00' } });
    expect(harness.emulator.scores(launch.lineItemId!)[0]!.submission).toEqual({ startedAt: '2026-11-27T06:00:00.000Z' });
  });

  it('grades the launch\'s user even when the score names a grader (scoringUserId)', async () => {
    const launch = harness.emulator.launch({ user: { id: 'the-student' }, lineItem: { label: 'Lab', scoreMaximum: 2 } });
    harness.emulator.enroll(launch.contextId, { id: 'victim' });
    await harness.grades.forLaunch(launch.ltik).submit({ scoreGiven: 2, scoreMaximum: 2, scoringUserId: 'victim' });
    expect(harness.emulator.scores(launch.lineItemId!).map((s) => [s.userId, s.scoringUserId])).toEqual([['the-student', 'victim']]);
    expect(harness.emulator.scores(launch.lineItemId!, 'victim')).toEqual([]);
  });

  it('gives errors that are the package\'s own', async () => {
    const launch = harness.emulator.launch({ grades: false });
    const error = await harness.grades.forLaunch(launch.ltik).findOrCreateLineItem({ resourceId: 'x', label: 'X', scoreMaximum: 1 }).catch((e) => e);
    expect(isLtiaasGradesError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'GRADES_UNAVAILABLE', status: 403, expose: true });
  });
});
