// The one place where `npm run demo:cluster` hands its instances what they share over Redis: the coordination and the BullMQ outbox.
'use strict';

const Redis = require('ioredis');
const { bullmqOutbox, redisCoordination } = require('express-ltiaas-grades/redis');

/**
 * The `coordination` and `outbox` options of each demo instance, given the cluster's Redis URL
 * and the outbox's encryption key, and the Redis client they use (the instance closes it when it
 * stops, after `grades.close()`). The instances share the launches' ID tokens, the grade-book
 * column (found or created once for the class, whichever instance grades first), the score clock,
 * and one queue of held grades: a grade held while LTIAAS is down is in Redis, not in one
 * instance, so any instance delivers it (and lists it on its admin page), whichever one goes away.
 */
function sharedOverRedis({ redisUrl, encryptionKey }) {
  // disconnectTimeout 0: a client closed at shutdown lets the process end at once.
  const redis = new Redis(redisUrl, { disconnectTimeout: 0 });
  // While redis-server is restarting the client reconnects by itself; the package logs what matters once.
  redis.on('error', () => undefined);
  return {
    coordination: redisCoordination({ redis }),
    // Every instance delivers (worker: true, the default); the jobs are sealed with the cluster's key.
    outbox: bullmqOutbox({ connection: redis, encryptionKey }),
    close: async () => {
      redis.disconnect();
    },
  };
}

module.exports = { sharedOverRedis };
