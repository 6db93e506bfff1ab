// The one place where `npm run demo:cluster` hands its instances the shared coordination over Redis.
'use strict';

const Redis = require('ioredis');
const { redisCoordination } = require('express-ltiaas-grades/redis');

/**
 * The `coordination` option for each demo instance, given the cluster's Redis URL, and the Redis
 * client it uses (the instance closes it when it stops): the instances share the launches' ID
 * tokens, the grade-book column (found or created once for the class, whichever instance grades
 * first) and the score clock. Without a URL (an instance started on its own), none.
 */
function coordinationFor(redisUrl) {
  if (!redisUrl) return { coordination: undefined, close: async () => undefined };
  // disconnectTimeout 0: a client closed at shutdown lets the process end at once.
  const redis = new Redis(redisUrl, { disconnectTimeout: 0 });
  // While redis-server is restarting the client reconnects by itself; the package logs what matters once.
  redis.on('error', () => undefined);
  return {
    coordination: redisCoordination({ redis }),
    close: async () => {
      redis.disconnect();
    },
  };
}

module.exports = { coordinationFor };
