// The `express-ltiaas-grades/redis` entry point: re-exports only. It loads no Redis client; the application passes its ioredis client in.
export { redisCoordination, type RedisCoordination, type RedisCoordinationOptions } from './redisCoordination';
export { RedisLock, type LockLease, type RedisLockOptions } from './redisLock';
export { RedisColumnCache, type ColumnKey, type RedisColumnCacheOptions } from './columnCache';
export type { ColumnName } from './columnCache';
export { RedisIdTokenCache, type RedisIdTokenCacheOptions } from './idTokenCache';
export { RedisScoreClock, type RedisScoreClockOptions } from './scoreClock';
export type { RedisClientLike } from './redisClient';
export { redisServiceKeyStore, type RedisServiceKeyStoreOptions, type RedisHashClientLike } from './redisServiceKeyStore';
export { bullmqOutbox, startOutboxWorker, type BullmqOutbox } from './bullmqOutbox';
export type { BullmqConnection, BullmqOutboxOptions, IoredisClientLike, IoredisOptionsLike } from './bullmqOptions';
