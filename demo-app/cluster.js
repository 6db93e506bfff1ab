// Entry of `npm run demo:cluster`: redis-server, the LTIAAS emulator, three quiz tool instances sharing one BullMQ outbox, and a round-robin front on loopback.
'use strict';

const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const INSTANCE_COUNT = 3;
// Debian's redis-server unless REDIS_SERVER names another (the Redis test suite reads the same variable).
const REDIS_SERVER = process.env.REDIS_SERVER || '/usr/bin/redis-server';

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** A port from the environment: a whole number from 0 (any free port) to 65535. */
function portFromEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const port = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || port > 65535) {
    throw new Error(`${name} must be a port number from 0 to 65535 (0 picks a free port), not ${JSON.stringify(raw)}.`);
  }
  return port;
}

/** A loopback port that is free now (redis-server cannot pick one itself and say which). */
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** Spawns a child and resolves once a line of its output passes `isReady` (with that line); rejects with its output if it exits first. */
function startChild(command, args, { env, isReady, label }) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let ready = false;
    const onLine = (chunk) => {
      output += chunk.toString('utf8');
      if (ready) return;
      const line = output.split('\n').find((candidate) => isReady(candidate));
      if (line !== undefined) {
        ready = true;
        resolve({ child, line });
      }
    };
    child.stdout.on('data', onLine);
    child.stderr.on('data', (chunk) => {
      output += chunk.toString('utf8');
      // An instance's warnings (an outbox retry, say) are worth seeing; redis-server's are in `output`.
      if (ready && label !== 'redis-server') process.stderr.write(chunk);
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (!ready) reject(new Error(`${label} exited (${code ?? signal}) before it was ready:\n${output}`));
    });
  });
}

function startRedis(port, dir) {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', '', '--daemonize', 'no', '--logfile', ''];
  return startChild(REDIS_SERVER, args, { label: 'redis-server', isReady: (line) => line.includes('Ready to accept connections') });
}

function startInstance(index, env) {
  const name = `instance-${index + 1}`;
  return startChild(process.execPath, [path.join(__dirname, 'clusterInstance.js')], {
    env: { ...env, INSTANCE_NAME: name },
    label: name,
    isReady: (line) => /^listening \d+$/.test(line.trim()),
  }).then(({ child, line }) => ({ name, child, pid: child.pid, port: Number(line.trim().split(' ')[1]) }));
}

/**
 * The front: a plain round-robin proxy over the instances, as a load balancer without sticky
 * sessions would be. It keeps the start page and the launch itself (they need the emulator, which
 * lives here); each response says which instance answered (`X-Demo-Instance`).
 */
function createFront(instances, launchApp) {
  let next = 0;
  return http.createServer((req, res) => {
    const pathname = (req.url ?? '/').split('?')[0];
    if ((req.method === 'GET' && pathname === '/') || (req.method === 'POST' && pathname === '/launch')) {
      launchApp(req, res);
      return;
    }
    const instance = instances[next];
    next = (next + 1) % instances.length;
    const upstream = http.request(
      { host: '127.0.0.1', port: instance.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, { ...answer.headers, 'x-demo-instance': instance.name });
        answer.pipe(res);
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`${instance.name} did not answer.`);
    });
    req.pipe(upstream);
  });
}

function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

async function main() {
  if (!isExecutable(REDIS_SERVER)) {
    console.error(
      `demo:cluster needs redis-server, and there is none at ${REDIS_SERVER}.\n` +
        'Install it (Debian/Ubuntu: sudo apt-get install redis-server), or set REDIS_SERVER=/path/to/redis-server.\n' +
        'To try the quiz tool on one instance without Redis: npm run demo',
    );
    process.exitCode = 1;
    return;
  }
  // Loaded only now: the check above must answer even before the package is built.
  const { ltiaasGrades } = require('express-ltiaas-grades');
  const { startEmulator } = require('express-ltiaas-grades/testing');
  const { createDemoApp } = require('./app');

  const running = { instances: [] };
  let stopping = false;

  // SIGUSR2 takes the emulated LTIAAS down (grades are then held in the shared outbox) and, the
  // next time, back up. (SIGUSR1 is Node's own, for the inspector.)
  let outage = Promise.resolve();
  let ltiaasDown = false;
  process.on('SIGUSR2', () => {
    outage = outage.then(async () => {
      // Only once the cluster runs, and not while it stops.
      if (!running.front?.listening || stopping) return;
      ltiaasDown = !ltiaasDown;
      if (ltiaasDown) {
        await running.emulator.unreachable();
        console.error(`The emulated LTIAAS is down: grades are held in the shared outbox (kill -USR2 ${process.pid} brings it back).`);
      } else {
        await running.emulator.reachable();
        console.error('The emulated LTIAAS is back: the outbox delivers the held grades.');
      }
    }).catch((error) => console.error(`Could not change the emulated LTIAAS: ${error instanceof Error ? error.message : String(error)}`));
  });

  const closeAll = async () => {
    if (running.front?.listening) {
      await new Promise((resolve) => {
        running.front.close(() => resolve());
        running.front.closeAllConnections();
      });
    }
    await Promise.all(running.instances.map((instance) => stopChild(instance.child)));
    await running.launchGrades?.close();
    await running.emulator?.close();
    if (running.redis) await stopChild(running.redis);
    // The cluster's own redis folder (made by mkdtemp here).
    if (running.redisDir) fs.rmSync(running.redisDir, { recursive: true, force: true });
  };

  try {
    running.redisDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ltiaas-demo-redis-'));
    const redisPort = await freePort();
    running.redis = (await startRedis(redisPort, running.redisDir)).child;
    const redisUrl = `redis://127.0.0.1:${redisPort}`;

    // One emulated LMS for the whole cluster: the instances reach it by URL.
    running.emulator = await startEmulator({ host: '127.0.0.1', port: portFromEnv('EMULATOR_PORT', 0) });
    // The key the instances' shared outbox seals its jobs with: made for this run, handed to the
    // instances in their environment only, never printed (the run's Redis is removed at the end).
    const outboxKey = crypto.randomBytes(32).toString('base64');
    const env = { LTIAAS_URL: running.emulator.url, LTIAAS_API_KEY: running.emulator.apiKey, REDIS_URL: redisUrl, GRADES_KEY: outboxKey };
    for (let i = 0; i < INSTANCE_COUNT; i++) running.instances.push(await startInstance(i, env));

    // The front's own demo app serves only the start page and the launch; it never grades.
    running.launchGrades = ltiaasGrades({ ltiaasUrl: running.emulator.url, apiKey: running.emulator.apiKey });
    const launchApp = createDemoApp({ grades: running.launchGrades, emulator: running.emulator });
    running.front = createFront(running.instances, launchApp);
    await new Promise((resolve, reject) => {
      running.front.once('error', reject);
      running.front.listen(portFromEnv('PORT', 3000), '127.0.0.1', resolve);
    });
    console.error(`redis-server on ${redisUrl}; ${running.instances.map((instance) => `${instance.name} (pid ${instance.pid}) on port ${instance.port}`).join(', ')}`);
    console.error(`To take the emulated LTIAAS down, and back up the next time: kill -USR2 ${process.pid}`);
    console.log(`Demo cluster front (round-robin over ${INSTANCE_COUNT} instances): http://127.0.0.1:${running.front.address().port}/`);
    console.log(`Grade book (emulator): ${running.emulator.url}/gradebook`);
  } catch (error) {
    await closeAll().catch(() => undefined);
    throw error;
  }

  const stop = (signal) => {
    if (stopping) process.exit(1);
    stopping = true;
    console.error(`${signal}: stopping the demo cluster.`);
    setTimeout(() => process.exit(1), 5000).unref();
    closeAll().then(
      () => {
        process.exitCode = 0;
      },
      (error) => {
        console.error('Could not stop cleanly:', error);
        process.exitCode = 1;
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error) => {
  console.error(`The demo cluster could not start: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
