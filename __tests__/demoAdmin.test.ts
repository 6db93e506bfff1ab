// The demo's admin page, through supertest on Express 4 and 5: linked from the start page, open to this machine only (loopback peer and a loopback Host).
import type { AddressInfo } from 'node:net';
import http from 'node:http';
import request from 'supertest';
import type { Express, Request } from 'express';
import type { LtiaasGrades } from 'express-ltiaas-grades';
import type { LtiaasEmulator } from 'express-ltiaas-grades/testing';
import { EXPRESS_VERSIONS, startHarness, type Harness } from './helpers/harness';

const { createDemoApp, ADMIN_PATH } = require('../demo-app/app') as {
  createDemoApp(options: { grades: LtiaasGrades; emulator?: LtiaasEmulator; express?: unknown }): Express;
  ADMIN_PATH: string;
};
const { isLocalRequest } = require('../demo-app/localOnly') as { isLocalRequest(req: Request): boolean };

/** A request as Express hands it over: who connected, and the Host they named. */
const requestFrom = (remoteAddress: string, host: string) => ({ socket: { remoteAddress }, headers: { host } }) as unknown as Request;

describe('the demo\'s local-only rule', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1:3000', true],
    ['::1', 'localhost:3000', true],
    ['::ffff:127.0.0.1', '[::1]:3000', true],
    ['127.0.0.5', 'LOCALHOST', true],
    // Another machine, whatever it names.
    ['192.168.1.20', '127.0.0.1:3000', false],
    ['::ffff:10.0.0.7', 'localhost:3000', false],
    // This machine, reached under another site's name (DNS rebinding).
    ['127.0.0.1', 'attacker.example:3000', false],
    ['127.0.0.1', '127.0.0.1.attacker.example', false],
    ['127.0.0.1', '', false],
  ])('from %s to Host %j: %s', (remoteAddress, host, allowed) => {
    expect(isLocalRequest(requestFrom(remoteAddress, host))).toBe(allowed);
  });
});

describe.each(EXPRESS_VERSIONS)('the demo\'s admin page on %s', (_name, expressLib) => {
  let harness: Harness;
  let server: http.Server;
  let base: string;

  beforeEach(async () => {
    harness = await startHarness();
    server = http.createServer(createDemoApp({ grades: harness.grades, emulator: harness.emulator, express: expressLib }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await harness.close();
  });

  it('is linked from the start page and opens from this machine', async () => {
    const start = await request(base).get('/');
    expect(start.text).toContain(`<a data-test="admin-link" href="${ADMIN_PATH}/">`);
    const page = await request(base).get(`${ADMIN_PATH}/`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('<h1>Grades</h1>');
    // The router's own policy, not the demo pages' (which allow inline style).
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
  });

  it('refuses a request naming another host, as after DNS rebinding', async () => {
    for (const path of [`${ADMIN_PATH}/`, `${ADMIN_PATH}/grades.json`]) {
      const answer = await request(base).get(path).set('Host', 'attacker.example');
      expect([path, answer.status]).toEqual([path, 403]);
    }
  });
});
