// fileServiceKeyStore(): service keys in one private JSON file, rewritten atomically when they change.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import Joi from 'joi';
import { ensurePrivateDir, writeFileDurably } from '../durableFile';
import { OptionsError } from '../errors';
import type { ServiceKeyRecord, ServiceKeyRef, ServiceKeyStore } from './serviceKeyStore';

/** Options of {@link fileServiceKeyStore}. */
export interface FileServiceKeyStoreOptions {
  /** The JSON file (created 0600; its folder 0700 if missing). Required. */
  file: string;
  /** A record whose key and details did not change is rewritten at most this often, in ms. Default 1 h. */
  refreshAfterMs?: number;
}

const keyOf = (ref: ServiceKeyRef) => JSON.stringify([ref.platformId, ref.contextId, ref.resourceLinkId]);

/** Whether two records differ in anything but the time they were seen. */
const sameDetails = (a: ServiceKeyRecord, b: ServiceKeyRecord) => {
  const { updatedAt: _a, ...restA } = a;
  const { updatedAt: _b, ...restB } = b;
  return JSON.stringify(restA) === JSON.stringify(restB);
};

class FileServiceKeyStore implements ServiceKeyStore {
  private records?: Promise<Map<string, ServiceKeyRecord>>;
  /** Writes go one after another, each of the whole map, so the file is always a complete snapshot. */
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly file: string, private readonly refreshAfterMs: number) {}

  private load(): Promise<Map<string, ServiceKeyRecord>> {
    this.records ??= (async () => {
      try {
        const list = JSON.parse(await fs.readFile(this.file, 'utf8')) as ServiceKeyRecord[];
        return new Map(list.map((record) => [keyOf(record), record]));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map<string, ServiceKeyRecord>();
        throw error;
      }
    })();
    return this.records;
  }

  async save(record: ServiceKeyRecord): Promise<void> {
    const records = await this.load();
    const key = keyOf(record);
    const known = records.get(key);
    // Every launch calls save; the file is only rewritten when something changed or aged.
    if (known && sameDetails(known, record) && Date.parse(record.updatedAt) - Date.parse(known.updatedAt) < this.refreshAfterMs) return;
    records.set(key, { ...record });
    const snapshot = JSON.stringify([...records.values()], null, 1);
    this.writing = this.writing.catch(() => undefined).then(async () => {
      await ensurePrivateDir(path.dirname(this.file));
      await writeFileDurably(this.file, snapshot);
    });
    await this.writing;
  }

  async get(ref: ServiceKeyRef): Promise<ServiceKeyRecord | undefined> {
    const record = (await this.load()).get(keyOf(ref));
    return record ? { ...record } : undefined;
  }

  async list(filter: Partial<Pick<ServiceKeyRef, 'platformId' | 'contextId'>> = {}): Promise<ServiceKeyRecord[]> {
    return [...(await this.load()).values()]
      .filter((record) => (filter.platformId === undefined || record.platformId === filter.platformId) && (filter.contextId === undefined || record.contextId === filter.contextId))
      .map((record) => ({ ...record }));
  }
}

const schema = Joi.object({
  file: Joi.string().min(1).required(),
  refreshAfterMs: Joi.number().integer().min(0).default(60 * 60 * 1000),
});

/**
 * A service key store in one JSON file, for tools on a single server. Pass it to
 * `ltiaasGrades({ serviceKeyStore })`; read it back in a cron job to grade outside a launch.
 * @example
 * const keys = fileServiceKeyStore({ file: '/var/lib/my-tool/service-keys.json' });
 * const record = await keys.get({ platformId, contextId, resourceLinkId });
 * await ltiaasClient({ ltiaasUrl, apiKey }).withServiceKey(record.serviceKey).submitScore(...);
 */
export function fileServiceKeyStore(options: FileServiceKeyStoreOptions): ServiceKeyStore {
  const { value, error } = schema.validate(options);
  if (error) throw new OptionsError(`fileServiceKeyStore(): ${error.details[0]!.message}; pass { file: '/path/to/service-keys.json' }.`);
  return new FileServiceKeyStore(value.file, value.refreshAfterMs);
}
