// Time from LTIAAS coming back to the last of 1,000 queued grades delivered, against 1,000 sequential POSTs / concurrency.
const { promises: fs } = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { fileOutbox, ltiaasGrades } = require('express-ltiaas-grades');
const { startRemoteEmulator } = require('./remoteEmulator');

const GRADES = 1000;
const LATENCY_MS = 20;
const CONCURRENCY = 8;

async function pool(items, concurrency, work) {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) await work(items[next++]);
  }));
}

/** One scenario: `down` makes LTIAAS fail, `up` brings it back; returns the recovery time. */
async function recovery(emulator, { down, up, fetchTokensFirst, outboxRetry }) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bench-outbox-'));
  const outbox = fileOutbox({ dir, concurrency: CONCURRENCY, retry: outboxRetry });
  const grades = ltiaasGrades({ ltiaasUrl: emulator.url, apiKey: emulator.apiKey, outbox, retry: { retries: 0 } });
  const context = `recovery-${Date.now()}`;
  const launches = await emulator.call('launchMany', { count: GRADES, description: { context: { id: context }, userPrefix: 'q', lineItem: { label: 'Lab', scoreMaximum: 10 } } });
  await emulator.call('setLatency', 0);
  if (fetchTokensFirst) await pool(launches, 32, (launch) => grades.forLaunch(launch.ltik).idToken());
  await down();
  const enqueueStarted = Date.now();
  await pool(launches, 32, async (launch) => {
    const outcome = await grades.forLaunch(launch.ltik).submit({ scoreGiven: 7, scoreMaximum: 10 });
    if (outcome.status !== 'queued') throw new Error(`expected queued, got ${outcome.status}`);
  });
  const enqueueMs = Date.now() - enqueueStarted;
  await emulator.call('setLatency', LATENCY_MS);
  const back = Date.now();
  await up();
  if (!(await outbox.drain(300_000))) throw new Error('outbox did not drain');
  const recoveryMs = Date.now() - back;
  const accepted = await emulator.call('acceptedScores', { contextId: context });
  if (accepted !== GRADES) throw new Error(`expected ${GRADES} scores, the LMS holds ${accepted}`);
  await grades.close();
  await fs.rm(dir, { recursive: true, force: true });
  return { recoveryMs, enqueueMs };
}

async function run() {
  const emulator = await startRemoteEmulator({ pageSize: 100 });

  // Baseline: 1,000 score POSTs one after another at 20 ms latency, divided by the concurrency.
  const baselineGrades = ltiaasGrades({ ltiaasUrl: emulator.url, apiKey: emulator.apiKey, retry: { retries: 0 } });
  const baseline = await emulator.call('launchMany', { count: GRADES, description: { context: { id: 'baseline' }, userPrefix: 'b', lineItem: { label: 'Lab', scoreMaximum: 10 } } });
  for (const launch of baseline.slice(0, 1)) await baselineGrades.forLaunch(launch.ltik).idToken();
  const lineItemId = baseline[0].lineItemId;
  const helper = baselineGrades.forLaunch(baseline[0].ltik);
  await emulator.call('setLatency', LATENCY_MS);
  const sequentialStarted = Date.now();
  for (let i = 0; i < GRADES; i++) await helper.submitScore(lineItemId, { scoreGiven: i % 11, scoreMaximum: 10 });
  const sequentialMs = Date.now() - sequentialStarted;
  await baselineGrades.close();
  const targetMs = sequentialMs / CONCURRENCY;

  // The outbox probes every 100-200 ms while LTIAAS fails (its retry option), so it notices the return quickly.
  const outboxRetry = { minDelayMs: 100, maxDelayMs: 200 };

  // A: the LMS is down behind LTIAAS (score POSTs answer 503) after the launches were read.
  const lmsDown = await recovery(emulator, {
    fetchTokensFirst: true,
    outboxRetry,
    down: () => emulator.call('fail', { method: 'POST', pathRegExp: '/scores$', status: 503, times: 'Infinity' }),
    up: () => emulator.call('clearFaults'),
  });
  // B: LTIAAS entirely unreachable, even /api/idtoken: each queued grade also needs its ID token.
  const unreachable = await recovery(emulator, {
    fetchTokensFirst: false,
    outboxRetry,
    down: () => emulator.call('unreachable'),
    up: () => emulator.call('reachable'),
  });
  await emulator.close();
  return {
    grades: GRADES,
    latencyMs: LATENCY_MS,
    concurrency: CONCURRENCY,
    sequentialMs,
    targetMs,
    lmsDown: { ...lmsDown, ratio: lmsDown.recoveryMs / targetMs },
    unreachable: { ...unreachable, ratio: unreachable.recoveryMs / targetMs },
    ratioTarget: 1.25,
  };
}

module.exports = { run };
if (require.main === module) run().then((result) => console.log(JSON.stringify(result, null, 2)));
