// Entry of `npm run demo`: starts the LTIAAS emulator (unless real LTIAAS credentials are set) and the quiz tool.
'use strict';

const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { fileOutbox, ltiaasGrades } = require('express-ltiaas-grades');
const { startEmulator } = require('express-ltiaas-grades/testing');
const { createDemoApp } = require('./app');

// Stdout carries only the two address lines (tests read them); everything else goes to stderr.
const stderrLogger = {
  warn: (fields, message) => console.error(`[express-ltiaas-grades] ${message}`, fields),
  error: (fields, message) => console.error(`[express-ltiaas-grades] ${message}`, fields),
};

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

/** The address to print: a wildcard host is reached on loopback, an IPv6 literal needs brackets. */
function urlOf(host, port) {
  if (host === '0.0.0.0' || host === '::') return `http://127.0.0.1:${port}/`;
  return host.includes(':') ? `http://[${host}]:${port}/` : `http://${host}:${port}/`;
}

function listen(server, port, host) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server.address().port);
    });
  });
}

/** Closes what is open, newest first, so that no request reaches a closed grades client or emulator. */
async function closeAll({ server, grades, emulator, temporaryDir }) {
  if (server?.listening) {
    await new Promise((resolve) => {
      server.close(() => resolve());
      // close() alone would wait for browsers' idle keep-alive connections.
      server.closeAllConnections();
    });
  }
  await grades?.close();
  await emulator?.close();
  // The emulator run's own outbox folder (made by mkdtemp, never a folder the user named).
  if (temporaryDir) fs.rmSync(temporaryDir, { recursive: true, force: true });
}

async function main() {
  const port = portFromEnv('PORT', 3000);
  const host = process.env.HOST || '127.0.0.1';
  const { LTIAAS_URL: ltiaasUrl, LTIAAS_API_KEY: apiKey } = process.env;
  const useRealLtiaas = Boolean(ltiaasUrl && apiKey);
  if (!useRealLtiaas && (ltiaasUrl || apiKey)) {
    console.error('Only one of LTIAAS_URL and LTIAAS_API_KEY is set: using the embedded emulator. Set both to use your LTIAAS account.');
  }

  const running = {};
  try {
    running.emulator = useRealLtiaas
      ? undefined
      : await startEmulator({ host: '127.0.0.1', port: portFromEnv('EMULATOR_PORT', 0) });
    // Grades that cannot reach the LMS now wait here and are delivered later. The emulator's
    // launches die with it, so an emulator run starts from an empty outbox of its own.
    const ownOutboxDir = !process.env.OUTBOX_DIR && !useRealLtiaas;
    const outboxDir = process.env.OUTBOX_DIR || (useRealLtiaas ? path.join(__dirname, '.outbox') : fs.mkdtempSync(path.join(os.tmpdir(), 'ltiaas-demo-outbox-')));
    if (ownOutboxDir) running.temporaryDir = outboxDir;
    running.grades = ltiaasGrades({
      ltiaasUrl: useRealLtiaas ? ltiaasUrl : running.emulator.url,
      apiKey: useRealLtiaas ? apiKey : running.emulator.apiKey,
      outbox: fileOutbox({ dir: outboxDir }),
      logger: stderrLogger,
    });
    running.server = http.createServer(createDemoApp({ grades: running.grades, emulator: running.emulator }));
    const boundPort = await listen(running.server, port, host);
    console.log(`Demo quiz tool: ${urlOf(host, boundPort)}`);
    if (running.emulator) console.log(`Grade book (emulator): ${running.emulator.url}/gradebook`);
  } catch (error) {
    await closeAll(running).catch(() => undefined);
    throw error;
  }

  let stopping = false;
  const stop = (signal) => {
    if (stopping) {
      // A second Ctrl-C means "now".
      process.exit(1);
    }
    stopping = true;
    console.error(`${signal}: stopping the demo.`);
    // Should something keep the event loop alive after closing, do not hang the terminal.
    setTimeout(() => process.exit(1), 5000).unref();
    closeAll(running).then(
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
  console.error(`The demo could not start: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
