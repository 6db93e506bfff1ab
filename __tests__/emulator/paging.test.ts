// The emulator's paging of line item lists: absolute LMS page URLs, the page size cap, refused limits and foreign pages.
import { startEmulator } from 'express-ltiaas-grades/testing';
import { emulator, useFreshEmulator, call, ltikAuth, createLineItem } from './emulatorTest';

useFreshEmulator();

describe('line item pages', () => {
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
});
