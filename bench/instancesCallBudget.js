// Counts LTIAAS calls per grade on 1 vs 3 tool instances: 50 students each open the quiz and submit twice, each request on another instance (round-robin), with and without redisCoordination.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const express = require('express');
const Redis = require('ioredis');
const { ltiaasGrades, requireLti } = require('express-ltiaas-grades');
const { redisCoordination } = require('express-ltiaas-grades/redis');
const { startRemoteEmulator } = require('./remoteEmulator');

const REDIS_SERVER = process.env.REDIS_SERVER || '/usr/bin/redis-server';
const STUDENTS = 50;

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

/** A redis-server of its own on a free loopback port and a temp folder; undefined when none is installed. */
async function startRedis() {
  if (!fs.existsSync(REDIS_SERVER)) return undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-redis-'));
  const port = await freePort();
  const child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--logfile', ''], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise((resolve, reject) => {
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
      if (output.includes('Ready to accept connections')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${output}`)));
  });
  child.stdout.resume();
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      await new Promise((resolve) => {
        child.once('exit', resolve);
        child.kill('SIGTERM');
      });
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One tool instance: the quiz page (reads the ID token) and the graded finish, on a port of its own. */
async function startTool(emulator, redisUrl) {
  const redis = redisUrl ? new Redis(redisUrl, { disconnectTimeout: 0 }) : undefined;
  const grades = ltiaasGrades({ ltiaasUrl: emulator.url, apiKey: emulator.apiKey, ...(redis ? { coordination: redisCoordination({ redis }) } : {}) });
  const app = express();
  app.use(grades.middleware());
  app.get('/quiz', (req, res, next) => {
    requireLti(req).grades.isAvailable().then((available) => res.json({ available }), next);
  });
  app.post('/finish', grades.submitGrade({ score: (req) => ({ scoreGiven: Number(req.query.points), scoreMaximum: 10 }), lineItem: { resourceId: 'bench-quiz', label: 'Bench quiz', scoreMaximum: 10 } }));
  app.use(grades.errorHandler());
  const server = await new Promise((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  return {
    port: server.address().port,
    async close() {
      server.close();
      server.closeAllConnections();
      await grades.close();
      redis?.disconnect();
    },
  };
}

async function ask(tool, method, route, ltik) {
  const res = await fetch(`http://127.0.0.1:${tool.port}${route}${route.includes('?') ? '&' : '?'}ltik=${encodeURIComponent(ltik)}`, { method });
  if (res.status !== 200) throw new Error(`${method} ${route} answered ${res.status}: ${await res.text()}`);
}

/** 50 students of a fresh course, concurrently; student i's j-th request goes to tools[(i + j) % n]. */
async function measure(emulator, tools, context) {
  const students = await emulator.call('launchMany', { count: STUDENTS, description: { context: { id: context }, userPrefix: context } });
  await emulator.call('clearRequests');
  await Promise.all(
    students.map(async (student, i) => {
      const on = (j) => tools[(i + j) % tools.length];
      await ask(on(0), 'GET', '/quiz', student.ltik);
      await ask(on(1), 'POST', '/finish?points=7', student.ltik);
      await ask(on(2), 'POST', '/finish?points=9', student.ltik);
    }),
  );
  const calls = await emulator.call('requestCount');
  const grades = await emulator.call('countRequests', { method: 'POST', pathRegExp: '/scores$' });
  const idTokenReads = await emulator.call('countRequests', { method: 'GET', path: '/api/idtoken' });
  const columns = await emulator.call('lineItemCount', { contextId: context });
  return { calls, grades, callsPerGrade: calls / grades, idTokenReads, columns };
}

async function run() {
  const redis = await startRedis();
  if (!redis) return { skipped: `no redis-server at ${REDIS_SERVER}` };
  const emulator = await startRemoteEmulator();
  const started = [];
  const tools = async (count, redisUrl) => {
    const made = await Promise.all(Array.from({ length: count }, () => startTool(emulator, redisUrl)));
    started.push(...made);
    return made;
  };
  try {
    return {
      students: STUDENTS,
      oneInstance: await measure(emulator, await tools(1), 'one-instance'),
      threeCoordinated: await measure(emulator, await tools(3, redis.url), 'three-coordinated'),
      threeAlone: await measure(emulator, await tools(3), 'three-alone'),
      target: 2.04,
    };
  } finally {
    await Promise.all(started.map((tool) => tool.close()));
    await emulator.close();
    await redis.stop();
  }
}

module.exports = { run };
if (require.main === module) run().then((result) => console.log(result));
