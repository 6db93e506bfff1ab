// The `express-ltiaas-grades/redis` entry point: re-exports only, the three things a user makes (coordination, outbox, key store). It loads no Redis client; the application passes its ioredis client in.
export { redisCoordination, type RedisCoordination, type RedisCoordinationOptions } from './redisCoordination';
export type { RedisClientLike } from './redisClient';
export { redisServiceKeyStore, type RedisServiceKeyStoreOptions, type RedisHashClientLike } from './redisServiceKeyStore';
export { bullmqOutbox, startOutboxWorker, type BullmqOutbox } from './bullmqOutbox';
export type { BullmqConnection, BullmqOutboxOptions, IoredisClientLike, IoredisOptionsLike } from './bullmqOptions';
