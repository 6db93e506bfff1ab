// Loads the optional peers bullmq (and ioredis, for connection options) on first use, so that importing express-ltiaas-grades/redis loads neither.
import { gradesError } from '../errors';

export type BullmqModule = typeof import('bullmq');

/** The constructor of ioredis's client, as far as this package calls it. */
export type IoredisConstructor = new (options: object) => unknown;

/** A CommonJS module imported from ESM comes as its namespace or under `default`, depending on the loader. */
function namespaceOf<T>(loaded: unknown, probe: string): T {
  const module = loaded as Record<string, unknown>;
  if (probe in module) return module as T;
  return module.default as T;
}

function missingPeer(name: string, range: string): never {
  throw gradesError('OUTBOX_UNAVAILABLE', {
    message: `The BullMQ outbox needs the optional peer dependency ${name}: npm install ${name}@${range}.`,
    retryable: false,
  });
}

let bullmq: Promise<BullmqModule> | undefined;

/** bullmq, imported once per process; rejects with OUTBOX_UNAVAILABLE (not retryable) naming the install command when it is missing. */
export function loadBullmq(): Promise<BullmqModule> {
  bullmq ??= import('bullmq').then(
    (loaded) => namespaceOf<BullmqModule>(loaded, 'Queue'),
    () => {
      bullmq = undefined;
      return missingPeer('bullmq', '^6.7.0');
    },
  );
  return bullmq;
}

/** ioredis's client class, needed only when the outbox is given connection options instead of a client. */
export async function loadIoredis(): Promise<IoredisConstructor> {
  try {
    const loaded = namespaceOf<{ Redis?: IoredisConstructor; default?: IoredisConstructor }>(await import('ioredis'), 'Redis');
    const Redis = loaded.Redis ?? loaded.default;
    if (typeof Redis !== 'function') return missingPeer('ioredis', '^5.0.0');
    return Redis;
  } catch (error) {
    if ((error as { code?: unknown }).code === 'OUTBOX_UNAVAILABLE') throw error;
    return missingPeer('ioredis', '^5.0.0');
  }
}
