// Time from LTIAAS coming back to the last of 1,000 grades queued in the BullMQ outbox delivered, against 1,000 sequential POSTs / concurrency.
const Redis = require('ioredis');
const { ltiaasGrades } = require('express-ltiaas-grades');
const { bullmqOutbox } = require('express-ltiaas-grades/redis');
const { startRemoteEmulator } = require('./remoteEmulator');
const { startRedisServer, REDIS_SERVER } = require('./redisServer');

const GRADES = 1000;
const LATENCY_MS = 20;
const CONCURRENCY = 8;
const ENCRYPTION_KEY = 'bench-outbox-key-0123456789-abcdefghijklmnop';

async function pool(items, concurrency, work) {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) await work(items[next++]);
  }));
}

/** 1,000 score POSTs one after another at 20 ms latency: the floor the outbox's concurrency divides. */
async function sequentialPosts(emulator) {
  const grades = ltiaasGrades({ ltiaasUrl: emulator.url, apiKey: emulator.apiKey, retry: { retries: 0 } });
  const [launch] = await emulator.call('launchMany', { count: 1, description: { context: { id: 'bullmq-baseline' }, userPrefix: 'b', lineItem: { label: 'Lab', scoreMaximum: 10 } } });
  const helper = grades.forLaunch(launch.ltik);
  await helper.idToken();
  await emulator.call('setLatency', LATENCY_MS);
  const started = Date.now();
  for (let i = 0; i < GRADES; i++) await helper.submitScore(launch.lineItemId, { scoreGiven: i % 11, scoreMaximum: 10 });
  const ms = Date.now() - started;
  await emulator.call('setLatency', 0);
  await grades.close();
  return ms;
}

async function run() {
  const redisServer = await startRedisServer();
  if (!redisServer) return { skipped: `no redis-server at ${REDIS_SERVER} (apt-get install redis-server, or set REDIS_SERVER)` };
  const emulator = await startRemoteEmulator({ pageSize: 100 });
  const redis = new Redis({ host: '127.0.0.1', port: redisServer.port });
  try {
    const sequentialMs = await sequentialPosts(emulator);
    const targetMs = sequentialMs / CONCURRENCY;

    // The outbox probes every 100-200 ms while LTIAAS fails, as in the file outbox's benchmark.
    const outbox = bullmqOutbox({ connection: redis, encryptionKey: ENCRYPTION_KEY, queueName: 'bench-drain', concurrency: CONCURRENCY, retry: { minDelayMs: 100, maxDelayMs: 200 } });
    const grades = ltiaasGrades({ ltiaasUrl: emulator.url, apiKey: emulator.apiKey, outbox, retry: { retries: 0 } });
    const context = `bullmq-${Date.now()}`;
    const launches = await emulator.call('launchMany', { count: GRADES, description: { context: { id: context }, userPrefix: 'q', lineItem: { label: 'Lab', scoreMaximum: 10 } } });
    await pool(launches, 32, (launch) => grades.forLaunch(launch.ltik).idToken());
    // The LMS is down behind LTIAAS: every score POST answers 503, and each grade is queued.
    await emulator.call('fail', { method: 'POST', pathRegExp: '/scores$', status: 503, times: 'Infinity' });
    const enqueueStarted = Date.now();
    await pool(launches, 32, async (launch) => {
      const outcome = await grades.forLaunch(launch.ltik).submit({ scoreGiven: 7, scoreMaximum: 10 });
      if (outcome.status !== 'queued') throw new Error(`expected queued, got ${outcome.status}`);
    });
    const enqueueMs = Date.now() - enqueueStarted;
    if ((await outbox.stats()).pending !== GRADES) throw new Error('not every grade is in the queue');

    await emulator.call('setLatency', LATENCY_MS);
    const back = Date.now();

    await emulator.call('clearFaults');
    if (!(await outbox.drain(300_000))) throw new Error('the BullMQ outbox did not drain');
    const recoveryMs = Date.now() - back;
    const accepted = await emulator.call('acceptedScores', { contextId: context });
    if (accepted !== GRADES) throw new Error(`expected ${GRADES} scores, the LMS holds ${accepted}`);
    await grades.close();
    return { grades: GRADES, latencyMs: LATENCY_MS, concurrency: CONCURRENCY, sequentialMs, targetMs, enqueueMs, recoveryMs, ratio: recoveryMs / targetMs, ratioTarget: 1.25 };
  } finally {
    redis.disconnect();
    await emulator.close();
    await redisServer.stop();
  }
}

module.exports = { run };
if (require.main === module) run().then((result) => console.log(JSON.stringify(result, null, 2)));
