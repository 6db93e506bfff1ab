// End to end in headless Chromium: an operator opens the demo's admin page, sees an instructor's grade the LMS refused with its message, re-queues it once the LMS takes it and sees it delivered; an unauthorized request and a forged cross-site form change nothing.
import { execFileSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { Express } from 'express';
import type * as Package from '../../src/index';
import type * as Testing from '../../src/testing/index';

const REPO_ROOT = path.resolve(__dirname, '../..');
const SCREENSHOT_DIR = path.join(__dirname, 'screenshots');
// Two more names for 127.0.0.1, resolved by Chromium itself: another host for the same server
// (not a local name, so the demo refuses it) and another site (the attacker's page).
const OPERATOR_ALIAS = 'operator.test';
const ATTACKER_HOST = 'attacker.test';
// As in demo.browser.test.ts (root, no GPU, no background calls), plus the two names above.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  `--host-resolver-rules=MAP ${OPERATOR_ALIAS} 127.0.0.1, MAP ${ATTACKER_HOST} 127.0.0.1`,
];
const VIEWPORT = { width: 1280, height: 800 };
const ALL_CORRECT = { q1: 'b', q2: 'c', q3: 'a', q4: 'd' };
const LMS_REFUSAL = 'Incorrect score received';

// The package as an app uses it: the build `npm run test:browser` made.
if (!existsSync(path.join(REPO_ROOT, 'dist/index.js'))) {
  throw new Error('dist/ is missing: run this test with `npm run test:browser`, which builds the package first.');
}
const { fileOutbox, ltiaasGrades } = require('../../dist/index.js') as typeof Package;
const { startEmulator } = require('../../dist/testing.js') as typeof Testing;
const { createDemoApp, ADMIN_PATH } = require('../../demo-app/app') as {
  createDemoApp(options: { grades: Package.LtiaasGrades; emulator: Testing.LtiaasEmulator }): Express;
  ADMIN_PATH: string;
};

/** Debian's Chromium, found on PATH at run time. The test never downloads a browser of its own. */
function findChromium(): string {
  try {
    const found = execFileSync('which', ['chromium'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    if (found) return found;
  } catch {
    // `which` exits 1 when nothing is found: fall through to the message below.
  }
  throw new Error('Chromium is not installed: install Debian\'s chromium (`apt-get install -y chromium`, as root), then run `npm run test:browser` again.');
}

function listen(server: http.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

function close(server: http.Server | undefined): Promise<void> {
  if (!server?.listening) return Promise.resolve();
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** Waits for what the outbox does in the background, with a generous deadline. */
async function waitFor(what: string, condition: () => Promise<boolean>, deadlineMs = 20_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  while (!(await condition())) {
    if (Date.now() > until) throw new Error(`${what}: not reached within ${deadlineMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Saves a full-page screenshot for the README, through a .tmp.png so a broken run leaves the last good one. */
async function saveScreenshot(page: Page, fileName: string): Promise<void> {
  const finalPath = path.join(SCREENSHOT_DIR, fileName);
  const partialPath = finalPath.replace(/\.png$/, '.tmp.png');
  await page.mouse.move(0, 0);
  await page.screenshot({ path: partialPath, fullPage: true });
  await fs.rename(partialPath, finalPath);
}

describe('the admin page in a browser', () => {
  let tempDir: string;
  let emulator: Testing.LtiaasEmulator;
  let outbox: Package.GradeOutbox;
  let grades: Package.LtiaasGrades;
  let demo: http.Server;
  let attacker: http.Server | undefined;
  let demoBase = '';
  let attackerPage = '';
  let context: BrowserContext;
  let page: Page;
  // Every URL the browser asked for: only the two servers on 127.0.0.1, under their three names.
  const requestedUrls: string[] = [];
  let allowedPrefixes: string[] = [];
  let refusedJobId = '';
  let pageToken = '';

  beforeAll(async () => {
    const executablePath = findChromium();
    tempDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ltiaas-admin-browser-'));
    await fs.mkdir(SCREENSHOT_DIR, { recursive: true });
    emulator = await startEmulator({ host: '127.0.0.1' });
    // Short backoff: the outbox delivers the held grade soon after the LMS failed.
    outbox = fileOutbox({ dir: path.join(tempDir, 'outbox'), retry: { minDelayMs: 50, maxDelayMs: 200 } });
    grades = ltiaasGrades({ ltiaasUrl: emulator.url, apiKey: emulator.apiKey, outbox, retry: { retries: 0 } });
    demo = http.createServer(createDemoApp({ grades, emulator }));
    const demoPort = await listen(demo);
    demoBase = `http://127.0.0.1:${demoPort}`;
    // Another site's page with a form aimed at the admin page's discard button (see the test).
    attacker = http.createServer((req, res) => {
      const target = `${demoBase}${ADMIN_PATH}/failed/${refusedJobId}/discard`;
      res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><title>Win a prize</title>
<form method="post" action="${target}"><button type="submit" data-test="no-token">Claim</button></form>
<form method="post" action="${target}"><input type="hidden" name="token" value="${pageToken}"><button type="submit" data-test="stolen-token">Claim again</button></form>`);
    });
    const attackerPort = await listen(attacker);
    attackerPage = `http://${ATTACKER_HOST}:${attackerPort}/`;
    allowedPrefixes = [`${demoBase}/`, `http://${OPERATOR_ALIAS}:${demoPort}/`, attackerPage, `${emulator.url}/`];

    context = await chromium.launchPersistentContext(path.join(tempDir, 'profile'), { executablePath, args: CHROMIUM_ARGS, viewport: VIEWPORT });
    context.on('request', (request) => requestedUrls.push(request.url()));
    await context.route('**/*', (route) => (allowedPrefixes.some((prefix) => route.request().url().startsWith(prefix)) ? route.continue() : route.abort('blockedbyclient')));
    page = context.pages()[0] ?? (await context.newPage());
  });

  afterAll(async () => {
    await context?.close();
    await close(attacker);
    await close(demo);
    await grades?.close();
    await emulator?.close();
    if (tempDir) await fs.rm(tempDir, { recursive: true, force: true });
  });

  afterEach(() => {
    expect(requestedUrls.length).toBeGreaterThan(0);
    expect(requestedUrls.filter((url) => !allowedPrefixes.some((prefix) => url.startsWith(prefix)))).toEqual([]);
    requestedUrls.length = 0;
  });

  test("an instructor's grade, held while the LMS failed, is refused by it; the operator sees it with the LMS's message", async () => {
    await page.goto(`${demoBase}/`);
    await Promise.all([page.waitForURL((url) => url.pathname === '/quiz'), page.locator('[data-test=launch-instructor]').click()]);
    for (const [question, choice] of Object.entries(ALL_CORRECT)) await page.locator(`input[type=radio][name="${question}"][value="${choice}"]`).check();
    // The LMS fails the score once: the grade is held, then delivered by the outbox, which the LMS refuses.
    emulator.fail({ method: 'POST', path: /\/scores$/, status: 503 });
    const [finished] = await Promise.all([
      page.waitForResponse((response) => response.request().isNavigationRequest() && new URL(response.url()).pathname === '/quiz/finish'),
      page.locator('[data-test=submit-quiz]').click(),
    ]);
    expect(finished.status()).toBe(202);
    await waitFor('the grade on the dead-letter list', async () => (await outbox.failed()).length === 1);
    refusedJobId = (await outbox.failed())[0]!.id;

    // The operator follows the start page's link.
    await page.goto(`${demoBase}/`);
    await Promise.all([page.waitForURL((url) => url.pathname === `${ADMIN_PATH}/`), page.locator('[data-test=admin-link]').click()]);
    const row = page.locator(`table[data-test=failed] tr[data-job-id="${refusedJobId}"]`);
    await row.waitFor();
    expect(await row.locator('td.user').textContent()).toBe('instructor-1');
    expect(await row.locator('td.score').textContent()).toBe('4 / 4');
    expect(await row.locator('[data-test=lms-message]').textContent()).toBe(`The LMS said: ${LMS_REFUSAL}`);
    expect(await row.locator('td.error code').textContent()).toBe('LTIAAS_REJECTED');
    expect(await page.locator('[data-test=state]').textContent()).toBe('degraded');
    // The page's styles apply under its CSP (a blocked style would leave the table unstyled).
    expect(await page.locator('table[data-test=failed] th').first().evaluate((cell) => (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }).getComputedStyle(cell).backgroundColor)).toBe('rgb(238, 242, 247)');
    const html = await page.content();
    expect(html).not.toContain(emulator.apiKey);
    pageToken = await row.locator('input[name=token]').first().inputValue();
    await saveScreenshot(page, '07-admin.png');
  });

  test('a request under a name that is not local gets 403 and shows nothing', async () => {
    const denied = await page.goto(`http://${OPERATOR_ALIAS}:${new URL(demoBase).port}${ADMIN_PATH}/`);
    expect(denied!.status()).toBe(403);
    const text = (await page.locator('body').textContent()) ?? '';
    expect(text).toContain('You are not allowed to see this page.');
    expect(text).not.toContain('instructor-1');
    const json = await page.goto(`http://${OPERATOR_ALIAS}:${new URL(demoBase).port}${ADMIN_PATH}/grades.json`);
    expect(json!.status()).toBe(403);
  });

  test("a form on another site aimed at the discard button changes nothing, even with the page's token", async () => {
    for (const button of ['no-token', 'stolen-token']) {
      await page.goto(attackerPage);
      const [answer] = await Promise.all([
        page.waitForResponse((response) => response.request().isNavigationRequest() && response.url().includes(`/failed/${refusedJobId}/discard`)),
        page.locator(`[data-test=${button}]`).click(),
      ]);
      expect([button, answer.status()]).toEqual([button, 403]);
      expect(await page.locator('body').textContent()).toContain('Nothing was changed');
    }
    expect((await outbox.failed()).map((job) => job.id)).toEqual([refusedJobId]);
    await page.goto(`${demoBase}${ADMIN_PATH}/`);
    await page.locator(`table[data-test=failed] tr[data-job-id="${refusedJobId}"]`).waitFor();
  });

  test('once the LMS takes the instructor, the operator re-queues the grade and sees it delivered', async () => {
    // The cause fixed in the LMS: the instructor is now gradable in the course.
    emulator.enroll('demo-course', { id: 'instructor-1', role: 'instructor', name: 'Instructor 1', gradable: true });
    await page.goto(`${demoBase}${ADMIN_PATH}/`);
    const row = page.locator(`table[data-test=failed] tr[data-job-id="${refusedJobId}"]`);
    await Promise.all([page.waitForURL((url) => url.searchParams.get('done') === 'requeued'), row.locator('[data-action=requeue]').click()]);
    expect(await page.locator('[data-test=notice]').textContent()).toContain('The grade was re-queued');

    const [column] = emulator.lineItems({ contextId: 'demo-course' });
    await waitFor('the re-queued grade in the grade book', async () => emulator.scores(column!.id, 'instructor-1').length === 1);
    await page.goto(`${demoBase}${ADMIN_PATH}/`);
    expect(await page.locator('table[data-test=failed] td.empty').textContent()).toBe('No refused grades.');
    const delivered = page.locator('table[data-test=recent] tr[data-outcome=delivered]').first();
    expect(await delivered.locator('td.user').textContent()).toBe('instructor-1');
    expect(await delivered.locator('td.score').textContent()).toBe('4 / 4');
    expect(await page.locator('[data-test=state]').textContent()).toBe('ok');
    expect(emulator.scores(column!.id, 'instructor-1').map((score) => score.scoreGiven)).toEqual([4]);
  });
});
