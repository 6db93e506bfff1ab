// One quiz tool instance of `npm run demo:cluster`: the demo app on a free loopback port, against the cluster's emulator.
'use strict';

const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { fileOutbox, ltiaasGrades } = require('express-ltiaas-grades');
const { createDemoApp } = require('./app');
const { coordinationFor } = require('./coordination');

const { LTIAAS_URL: ltiaasUrl, LTIAAS_API_KEY: apiKey, REDIS_URL: redisUrl, INSTANCE_NAME: name = 'instance' } = process.env;

const logger = {
  info: (fields, message) => console.error(`[${name}] ${message}`, fields),
  warn: (fields, message) => console.error(`[${name}] ${message}`, fields),
  error: (fields, message) => console.error(`[${name}] ${message}`, fields),
};

/**
 * What the instance's pages need of the emulator: its grade book address. Launches start at the
 * cluster's front (which holds the emulator); one reaching an instance directly is refused.
 */
const emulatorSeenFromInstance = {
  url: ltiaasUrl,
  launch() {
    throw new Error('Launches start at the demo cluster\'s front, not at an instance.');
  },
};

async function main() {
  if (!ltiaasUrl || !apiKey) throw new Error('LTIAAS_URL and LTIAAS_API_KEY are set by demo-app/cluster.js; start the cluster with `npm run demo:cluster`.');
  // Each instance its own outbox folder: a file outbox belongs to one process.
  const outboxDir = fs.mkdtempSync(path.join(os.tmpdir(), `ltiaas-demo-${name}-outbox-`));
  const shared = coordinationFor(redisUrl);
  const grades = ltiaasGrades({
    ltiaasUrl,
    apiKey,
    outbox: fileOutbox({ dir: outboxDir }),
    logger,
    ...(shared.coordination ? { coordination: shared.coordination } : {}),
  });
  const server = http.createServer(createDemoApp({ grades, emulator: emulatorSeenFromInstance }));
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  // The cluster reads this line to learn the port.
  console.log(`listening ${server.address().port}`);

  const stop = () => {
    server.close();
    server.closeAllConnections();
    grades
      .close()
      .catch(() => undefined)
      .then(() => shared.close())
      .finally(() => {
        fs.rmSync(outboxDir, { recursive: true, force: true });
        process.exit(0);
      });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((error) => {
  console.error(`[${name}] could not start: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
