// Throughput of a route that does not grade, with and without the middleware, measured side by side.
const { fork } = require('node:child_process');
const path = require('node:path');
const autocannon = require('autocannon');

/** An ltik the size of a real one (a signed token), so extraction does real work. */
const LTIK = `eyJhbGciOiJIUzI1NiJ9.${'x'.repeat(600)}.signature`;

function load(url, seconds) {
  return new Promise((resolve, reject) => {
    autocannon({ url, connections: 10, duration: seconds }, (error, result) => (error ? reject(error) : resolve(result)));
  });
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

/**
 * The machine is shared, so single runs swing by ±20%. Each round measures every route back to
 * back (order rotating) and yields one ratio per route; the median of those paired ratios is
 * reported, with the server's CPU time per request as a second, load-independent view.
 */
async function run({ rounds = 9, seconds = 3 } = {}) {
  // The server runs in its own process: autocannon's CPU must not be charged to it.
  const server = fork(path.join(__dirname, 'throughputServer.js'));
  const { port } = await new Promise((resolve) => server.once('message', resolve));
  const cpu = () =>
    new Promise((resolve) => {
      server.once('message', ({ cpuMicros }) => resolve(cpuMicros));
      server.send('cpu');
    });
  const base = `http://127.0.0.1:${port}`;
  const routes = { bare: `${base}/bare?ltik=${LTIK}`, noop: `${base}/with-noop?ltik=${LTIK}`, middleware: `${base}/with-middleware?ltik=${LTIK}` };
  const names = Object.keys(routes);
  for (const url of Object.values(routes)) await load(url, 2);
  const rate = { bare: [], noop: [], middleware: [] };
  const cpuPerRequest = { bare: [], noop: [], middleware: [] };
  const ratios = { noop: [], middleware: [] };
  for (let round = 0; round < rounds; round++) {
    const order = [...names.slice(round % names.length), ...names.slice(0, round % names.length)];
    const thisRound = {};
    for (const name of order) {
      const before = await cpu();
      const result = await load(routes[name], seconds);
      const after = await cpu();
      if (result.non2xx > 0 || result.errors > 0) throw new Error(`${name}: ${result.non2xx} non-2xx, ${result.errors} errors`);
      thisRound[name] = result.requests.average;
      rate[name].push(result.requests.average);
      cpuPerRequest[name].push((after - before) / result.requests.total);
    }
    ratios.noop.push(thisRound.noop / thisRound.bare);
    ratios.middleware.push(thisRound.middleware / thisRound.bare);
  }
  server.send('stop');
  return {
    bareReqPerSec: Math.round(median(rate.bare)),
    noopReqPerSec: Math.round(median(rate.noop)),
    middlewareReqPerSec: Math.round(median(rate.middleware)),
    ratio: median(ratios.middleware),
    noopRatio: median(ratios.noop),
    cpuMicrosPerRequest: {
      bare: median(cpuPerRequest.bare),
      noop: median(cpuPerRequest.noop),
      middleware: median(cpuPerRequest.middleware),
    },
    cpuRatio: median(cpuPerRequest.bare) / median(cpuPerRequest.middleware),
    target: 0.9,
    rounds,
  };
}

module.exports = { run };
if (require.main === module) run().then((result) => console.log(result));
