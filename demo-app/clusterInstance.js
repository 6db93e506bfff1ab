// One quiz tool instance of `npm run demo:cluster`: the demo app on a free loopback port, against the cluster's emulator, sharing its state and outbox through the cluster's Redis.
'use strict';

const http = require('node:http');
const { ltiaasGrades } = require('express-ltiaas-grades');
const { createDemoApp } = require('./app');
const { sharedOverRedis } = require('./coordination');

const { LTIAAS_URL: ltiaasUrl, LTIAAS_API_KEY: apiKey, REDIS_URL: redisUrl, GRADES_KEY: encryptionKey, INSTANCE_NAME: name = 'instance' } = process.env;

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
  if (!ltiaasUrl || !apiKey || !redisUrl || !encryptionKey) {
    throw new Error('LTIAAS_URL, LTIAAS_API_KEY, REDIS_URL and GRADES_KEY are set by demo-app/cluster.js; start the cluster with `npm run demo:cluster`.');
  }
  const shared = sharedOverRedis({ redisUrl, encryptionKey });
  const grades = ltiaasGrades({ ltiaasUrl, apiKey, logger, coordination: shared.coordination, outbox: shared.outbox });
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
    // Deliveries under way finish first; what is still held stays in Redis for the other instances.
    grades
      .close()
      .catch(() => undefined)
      .then(() => shared.close())
      .finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((error) => {
  console.error(`[${name}] could not start: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
