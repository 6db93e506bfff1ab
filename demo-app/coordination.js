// The one place where `npm run demo:cluster` hands its instances the shared coordination over Redis.
'use strict';

/**
 * The `coordination` option for each demo instance, given the cluster's Redis URL.
 *
 * Today: undefined. The instances share nothing but the LMS, so the grade book's column is found
 * by each instance's search before it creates one (a class graded at a person's pace makes one
 * column). When `ltiaasGrades({ coordination })` lands, this becomes:
 *   const Redis = require('ioredis');
 *   const { redisCoordination } = require('express-ltiaas-grades/redis');
 *   return redisCoordination({ redis: new Redis(redisUrl) });
 */
function coordinationFor(redisUrl) {
  void redisUrl;
  return undefined;
}

module.exports = { coordinationFor };
