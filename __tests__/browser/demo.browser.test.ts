// End to end in headless Chromium: the demo started as `npm run demo` runs it, a student's grade in the emulator's grade book, an instructor's refused, the grade book on a phone.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

const REPO_ROOT = path.resolve(__dirname, '../..');
const SCREENSHOT_DIR = path.join(__dirname, 'screenshots');
// The flags Chromium needs on this machine: root (no sandbox), no GPU, and no background calls to
// Google's hosts, which the closed network refuses (and which would not be 127.0.0.1 anyway).
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
// Wide enough for the grade book's table without wrapping, small enough to read in a README.
const VIEWPORT = { width: 1100, height: 800 };
// A common phone's CSS width (iPhone 12 to 15).
const PHONE_VIEWPORT = { width: 390, height: 844 };
const DEMO_START_TIMEOUT_MS = 30000;
const EMULATOR_API_KEY = 'emulator-api-key';
const LOOPBACK_PREFIX = 'http://127.0.0.1:';

// Answers chosen for 3 of 4 correct (the key is q1=b, q2=c, q3=a, q4=d): q4 is wrong on purpose,
// so the test would catch a grade book that shows the maximum instead of the score.
const THREE_OF_FOUR = { q1: 'b', q2: 'c', q3: 'a', q4: 'a' };
const ALL_CORRECT = { q1: 'b', q2: 'c', q3: 'a', q4: 'd' };
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

interface RunningDemo {
  child: ChildProcess;
  startUrl: string;
  gradebookUrl: string;
  output: string[];
}

/** Debian's Chromium, found on PATH at run time. The test never downloads a browser of its own. */
function findChromium(): string {
  try {
    const found = execFileSync('which', ['chromium'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    if (found) return found;
  } catch {
    // `which` exits 1 when nothing is found: fall through to the message below.
  }
  throw new Error(
    'Chromium is not installed: the browser test needs Debian\'s chromium on PATH. ' +
      'Install it with `apt-get update && apt-get install -y chromium` (as root), then run `npm run test:browser` again.',
  );
}

/**
 * Starts `node demo-app/server.js` as `npm run demo` does (dist/ was built by `npm run test:browser`),
 * on a free port, and resolves once it printed both addresses.
 */
function startDemo(outboxDir: string): Promise<RunningDemo> {
  if (!existsSync(path.join(REPO_ROOT, 'dist/index.js'))) {
    throw new Error('dist/ is missing: run this test with `npm run test:browser`, which builds the package first.');
  }
  // Variables that would switch the demo to a real LTIAAS account or another host are dropped:
  // the test must only ever talk to the embedded emulator on 127.0.0.1. The outbox goes to the
  // test's own temporary folder so that nothing is left behind.
  const { LTIAAS_URL, LTIAAS_API_KEY, HOST, EMULATOR_PORT, ...inherited } = process.env;
  const child = spawn(process.execPath, ['demo-app/server.js'], {
    cwd: REPO_ROOT,
    env: { ...inherited, PORT: '0', OUTBOX_DIR: outboxDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  let stdoutText = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`The demo did not print its addresses within ${DEMO_START_TIMEOUT_MS} ms. Output:\n${output.join('')}`));
    }, DEMO_START_TIMEOUT_MS);
    child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.stdout!.on('data', (chunk: Buffer) => {
      output.push(chunk.toString());
      stdoutText += chunk.toString();
      const startUrl = /^Demo quiz tool: (\S+)$/m.exec(stdoutText)?.[1];
      const gradebookUrl = /^Grade book \(emulator\): (\S+)$/m.exec(stdoutText)?.[1];
      if (startUrl && gradebookUrl) {
        clearTimeout(timer);
        resolve({ child, startUrl, gradebookUrl, output });
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`The demo exited before it was ready (code ${code}, signal ${signal}). Output:\n${output.join('')}`));
    });
  });
}

/** Stops the demo as Ctrl-C would (it closes its servers), and kills it should it hang. */
function stopDemo(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const killTimer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(killTimer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * A full-page screenshot for the README. Written to a .tmp.png (git-ignored) and renamed, so an
 * interrupted run never leaves a half-written picture in place of the last good one.
 */
async function saveScreenshot(page: Page, fileName: string): Promise<void> {
  const finalPath = path.join(SCREENSHOT_DIR, fileName);
  const partialPath = finalPath.replace(/\.png$/, '.tmp.png');
  // The mouse stays where the last click left it, and the hovered choice or button would be highlighted.
  await page.mouse.move(0, 0);
  await page.screenshot({ path: partialPath, fullPage: true });
  await fs.rename(partialPath, finalPath);
}

/** Picks one choice per question by clicking its radio input, as a person would. */
async function answerQuiz(page: Page, answers: Record<string, string>): Promise<void> {
  for (const [question, choice] of Object.entries(answers)) {
    await page.locator(`input[type=radio][name="${question}"][value="${choice}"]`).check();
  }
}

/** Submits the quiz form and waits for the page /quiz/finish answered with (result or error page). */
async function submitQuiz(page: Page): Promise<number> {
  const [response] = await Promise.all([
    page.waitForResponse((candidate) => candidate.request().isNavigationRequest() && new URL(candidate.url()).pathname === '/quiz/finish'),
    page.locator('[data-test=submit-quiz]').click(),
  ]);
  await page.waitForLoadState('load');
  return response.status();
}

/** Clicks a launch button of the start page and waits until the quiz (reached through POST /launch) has loaded. */
async function launch(page: Page, button: 'launch-student' | 'launch-instructor'): Promise<void> {
  await Promise.all([page.waitForURL((url) => url.pathname === '/quiz' && url.searchParams.has('ltik')), page.locator(`[data-test=${button}]`).click()]);
  await page.locator('[data-test=quiz-form]').waitFor();
}

/**
 * Evaluates in the page once it has loaded. The grade book reloads itself every 2 s, and a reload
 * in the middle of an evaluation destroys its context: then it is simply asked again.
 */
async function evaluateWhenLoaded<T>(page: Page, pageFunction: () => T): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    await page.waitForLoadState('load');
    try {
      return await page.evaluate(pageFunction);
    } catch (error) {
      const reloaded = /Execution context was destroyed|navigat/i.test(String(error));
      if (!reloaded || attempt >= 5) throw error;
    }
  }
}

/** The row of the person named `name` ("Student 1", as the quiz greeted them) under the "Demo quiz" line item of the grade-book page. */
function demoQuizRowOf(page: Page, name: string) {
  // The row header reads "Student 1 student-1": anchored so that "Student 1" cannot match "Student 10".
  const nameFirst = new RegExp(`^${name} `);
  return page
    .locator('section.line-item[data-line-item-id]')
    .filter({ has: page.locator('h3', { hasText: /^Demo quiz$/ }) })
    .locator('tr[data-user-id]')
    .filter({ has: page.locator('th.user', { hasText: nameFirst }) });
}

describe('the demo in a browser', () => {
  let demo: RunningDemo | undefined;
  let context: BrowserContext | undefined;
  let page: Page;
  let tempDir: string | undefined;
  // Every URL any page of the browser asked for, checked after each step.
  const requestedUrls: string[] = [];
  // Shared across the steps, which run in order: the student's launch and the quiz's ltik.
  let studentLtik = '';
  let studentName = '';

  beforeAll(async () => {
    const executablePath = findChromium();
    tempDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ltiaas-demo-browser-'));
    await fs.mkdir(SCREENSHOT_DIR, { recursive: true });
    demo = await startDemo(path.join(tempDir, 'outbox'));
    // A fresh, empty profile per run: no cookies, cache or settings carried over from elsewhere.
    context = await chromium.launchPersistentContext(path.join(tempDir, 'profile'), {
      executablePath,
      args: CHROMIUM_ARGS,
      viewport: VIEWPORT,
    });
    context.on('request', (request) => requestedUrls.push(request.url()));
    // Belt and braces: whatever the assertions below say, nothing leaves 127.0.0.1 (the request
    // is still recorded above, so the step that caused it fails).
    await context.route('**/*', (route) =>
      route.request().url().startsWith(LOOPBACK_PREFIX) ? route.continue() : route.abort('blockedbyclient'),
    );
    page = context.pages()[0] ?? (await context.newPage());
  });

  afterAll(async () => {
    await context?.close();
    if (demo) await stopDemo(demo.child);
    if (tempDir) await fs.rm(tempDir, { recursive: true, force: true });
  });

  afterEach(() => {
    // The pages must load nothing from anywhere (the demo's CSP says so too): only the demo and the emulator.
    // Each step loads pages, so an empty list would mean the recording is broken, not that all is well.
    expect(requestedUrls.length).toBeGreaterThan(0);
    const external = requestedUrls.filter((url) => !url.startsWith(LOOPBACK_PREFIX));
    expect(external).toEqual([]);
    requestedUrls.length = 0;
  });

  test('a student launches, scores 3 of 4, and sees the grade was sent', async () => {
    await page.goto(demo!.startUrl);
    await expect(page.locator('[data-test=launch-student]').textContent()).resolves.toBe('Launch as a student');
    await saveScreenshot(page, '01-start.png');

    await launch(page, 'launch-student');
    studentLtik = await page.locator('input[type=hidden][name=ltik]').inputValue();
    expect(studentLtik).not.toBe('');
    studentName = /Hello, ([^.]+)\./.exec((await page.locator('main').textContent()) ?? '')?.[1] ?? '';
    expect(studentName).toMatch(/^Student \d+$/);
    await answerQuiz(page, THREE_OF_FOUR);
    await saveScreenshot(page, '02-quiz.png');

    expect(await submitQuiz(page)).toBe(200);
    const result = (await page.locator('[data-test=result]').textContent()) ?? '';
    expect(result).toContain('3 / 4');
    expect(result).toContain('sent to the grade book');
    await saveScreenshot(page, '03-result.png');
  });

  test("the emulator's grade book shows 3 / 4 for that student, with a timestamp, and no secret", async () => {
    // Followed from the result page, as a person would; the link must be the address the demo printed.
    const gradebookLink = page.locator('[data-test=gradebook-link]');
    expect(await gradebookLink.getAttribute('href')).toBe(demo!.gradebookUrl);
    const [gradebookResponse] = await Promise.all([
      page.waitForResponse((candidate) => candidate.request().isNavigationRequest() && candidate.url() === demo!.gradebookUrl),
      gradebookLink.click(),
    ]);
    await page.waitForLoadState('load');
    // Screenshot first: the page reloads itself every 2 s, and right after a load is when it is whole.
    await saveScreenshot(page, '04-gradebook.png');

    // The page's whole HTML, as served: neither the student's ltik nor the API key may be in it.
    const gradebookHtml = await gradebookResponse.text();
    expect(gradebookHtml).not.toContain(studentLtik);
    expect(gradebookHtml).not.toContain(EMULATOR_API_KEY);

    // The student's id is read from the grade book: the one row of the "Demo quiz" column whose name is the quiz's greeting.
    const studentRow = demoQuizRowOf(page, studentName);
    await studentRow.waitFor();
    const studentId = (await studentRow.getAttribute('data-user-id')) ?? '';
    expect(studentId).toMatch(/^student-\d+$/);
    expect(await studentRow.locator('td.score').textContent()).toBe('3 / 4');
    expect(await studentRow.locator('td.comment').textContent()).toBe('3 of 4 correct');
    expect(await studentRow.locator('td.timestamp').textContent()).toMatch(ISO_TIMESTAMP);

    // The request log shows the calls the tool made, with the ltik masked.
    const requestLog = page.locator('section.request-log');
    await expect(requestLog.locator('tr.request').count()).resolves.toBeGreaterThan(0);
    const requestLogText = (await requestLog.textContent()) ?? '';
    expect(requestLogText).toContain('/api/lineitems');
    expect(requestLogText).not.toContain(studentLtik);
  });

  test('an instructor launches, finishes, and sees the LMS refuse the grade; the grade book has no score for them', async () => {
    await page.goto(demo!.startUrl);
    await launch(page, 'launch-instructor');
    const instructorName = /Hello, ([^.]+)\./.exec((await page.locator('main').textContent()) ?? '')?.[1] ?? '';
    expect(instructorName).toMatch(/^Instructor \d+$/);
    await answerQuiz(page, ALL_CORRECT);

    expect(await submitQuiz(page)).toBe(422);
    const errorText = (await page.locator('[data-test=error]').textContent()) ?? '';
    expect(errorText).toContain('The LMS refused this grade');
    expect(errorText).toContain('Incorrect score received');
    expect(await page.locator('[data-test=error-code]').textContent()).toBe('LTIAAS_REJECTED');
    await saveScreenshot(page, '05-instructor-refused.png');

    await page.goto(demo!.gradebookUrl);
    // The instructor is on the course's roster, so has a row: it must hold no score at all.
    const instructorRow = demoQuizRowOf(page, instructorName);
    await instructorRow.waitFor();
    expect(await instructorRow.getAttribute('data-user-id')).toMatch(/^instructor-\d+$/);
    expect(await instructorRow.locator('td.score').textContent()).toBe('—');
    expect(await instructorRow.locator('td.timestamp').textContent()).toBe('—');
    expect(await instructorRow.locator('td.score-count').textContent()).toBe('0');
    // And the student's grade is still there, untouched by the refusal.
    const studentRow = demoQuizRowOf(page, studentName);
    expect(await studentRow.locator('td.score').textContent()).toBe('3 / 4');
  });

  test('on a 390 px phone the grade book fits the screen: no sideways scrolling, every score still there', async () => {
    const phone = await context!.newPage();
    try {
      await phone.setViewportSize(PHONE_VIEWPORT);
      await phone.goto(demo!.gradebookUrl);
      const studentRow = demoQuizRowOf(phone, studentName);
      await studentRow.waitFor();
      const widths = await evaluateWhenLoaded(phone, () => {
        // Runs in the page; the tests are type-checked without the DOM library, so its globals are typed here.
        const browser = globalThis as unknown as { innerWidth: number; document: { scrollingElement: { scrollWidth: number } } };
        return { viewport: browser.innerWidth, scrollWidth: browser.document.scrollingElement.scrollWidth };
      });
      expect(widths.viewport).toBe(PHONE_VIEWPORT.width);
      // The whole page, request log included, is no wider than the screen.
      expect(widths.scrollWidth).toBeLessThanOrEqual(PHONE_VIEWPORT.width);
      expect(await studentRow.locator('td.score').textContent()).toBe('3 / 4');
      await saveScreenshot(phone, '06-gradebook-phone.png');
    } finally {
      await phone.close();
    }
  });
});
