// Heap after 100k distinct launches each reading its ID token: bounded caches keep it flat.
const { ltiaasGrades } = require('express-ltiaas-grades');
const { startRemoteEmulator } = require('./remoteEmulator');

function heapMb() {
  global.gc();
  global.gc();
  return process.memoryUsage().heapUsed / 1024 / 1024;
}

async function run({ launches = 100_000, batch = 5_000, concurrency = 32 } = {}) {
  if (typeof global.gc !== 'function') throw new Error('run with node --expose-gc');
  const emulator = await startRemoteEmulator({ logLimit: 10 });
  const grades = ltiaasGrades({ ltiaasUrl: emulator.url, apiKey: emulator.apiKey });
  const checkpoints = [];
  const started = Date.now();
  checkpoints.push({ launches: 0, heapMb: heapMb() });
  for (let done = 0; done < launches; done += batch) {
    const ltiks = (await emulator.call('launchMany', { count: batch, description: { context: { id: `ctx-${done}` }, userPrefix: `u${done}` } })).map((l) => l.ltik);
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < ltiks.length) await grades.forLaunch(ltiks[next++]).idToken();
      }),
    );
    if ([10_000, 25_000, 50_000, 75_000, 100_000].includes(done + batch)) checkpoints.push({ launches: done + batch, heapMb: heapMb() });
  }
  const seconds = (Date.now() - started) / 1000;
  await grades.close();
  await emulator.close();
  const after10k = checkpoints.find((c) => c.launches === 10_000).heapMb;
  const after100k = checkpoints[checkpoints.length - 1].heapMb;
  return { checkpoints, growthFrom10kTo100kMb: after100k - after10k, seconds };
}

module.exports = { run };
if (require.main === module) run().then((result) => console.log(JSON.stringify(result, null, 2)));
