// Calls into the app's service key store so that a careless store never crashes the tool nor leaks a key.
import { gradesError, storageCause, type StorageUnavailableError } from '../errors';
import type { ResolvedLogger } from '../logger';
import { redactSecrets } from '../redact';
import type { ServiceKeyRecord, ServiceKeyRef, ServiceKeyStore } from './serviceKeyStore';

type ListFilter = Partial<Pick<ServiceKeyRef, 'platformId' | 'contextId'>>;

/** The failure's kind and a message scrubbed of the key (a database error may quote the row). */
function describeFailure(error: unknown, secrets: readonly (string | undefined)[]): { error: string; errorName?: string } {
  // Whatever the store threw may itself throw when read (no prototype, a getter, a Proxy): never let that escape.
  try {
    const message = error instanceof Error ? error.message : String(error);
    return {
      error: redactSecrets(String(message), secrets),
      ...(error instanceof Error && error.name !== 'Error' ? { errorName: String(error.name) } : {}),
    };
  } catch {
    return { error: 'the store threw a value that cannot be read as text' };
  }
}

const isRecord = (value: unknown): value is ServiceKeyRecord =>
  typeof value === 'object' && value !== null && typeof (value as ServiceKeyRecord).serviceKey === 'string' && (value as ServiceKeyRecord).serviceKey !== '';

/**
 * The app's `serviceKeyStore` as the package calls it. A store written in a hurry may have a
 * synchronous `save` that returns nothing, throw instead of rejecting, or return the wrong
 * thing: every call is made inside a promise, so none of that escapes as an unhandled
 * rejection (which ends a Node process). `save` runs in the background of pages that do not
 * grade, so it only logs; `get` and `list` answer a caller, so they throw the package's
 * error (SERVICE_KEY_STORE_FAILED, 503, retryable) instead of whatever the store threw.
 */
export class GuardedServiceKeyStore {
  constructor(
    private readonly store: ServiceKeyStore,
    private readonly logger: ResolvedLogger,
    /** Secrets to scrub from what the store says, besides the record's own key (the API key). */
    private readonly secrets: readonly string[] = [],
  ) {}

  /** Saves the record; never rejects: a failure is logged (without the key) and the page goes on. */
  async save(record: ServiceKeyRecord): Promise<void> {
    try {
      await this.store.save(record);
    } catch (error) {
      this.log(
        { ...describeFailure(error, [record.serviceKey, ...this.secrets]), platformId: record.platformId, contextId: record.contextId, resourceLinkId: record.resourceLinkId },
        'serviceKeyStore.save failed: could not record the launch\'s service key',
      );
    }
  }

  /** The record for one activity, or undefined; throws SERVICE_KEY_STORE_FAILED when the store fails. */
  async get(ref: ServiceKeyRef): Promise<ServiceKeyRecord | undefined> {
    let found: unknown;
    try {
      found = await this.store.get(ref);
    } catch (error) {
      throw this.failure('get', error);
    }
    if (found === undefined || found === null) return undefined;
    if (!isRecord(found)) throw this.failure('get', new TypeError('it returned something that is not a service key record'));
    return found;
  }

  /** The records of a platform or context; throws SERVICE_KEY_STORE_FAILED when the store fails. */
  async list(filter?: ListFilter): Promise<ServiceKeyRecord[]> {
    let found: unknown;
    try {
      found = await this.store.list(filter);
    } catch (error) {
      throw this.failure('list', error);
    }
    if (!Array.isArray(found) || !found.every(isRecord)) throw this.failure('list', new TypeError('it returned something that is not a list of service key records'));
    return found;
  }

  private failure(method: 'get' | 'list', error: unknown): StorageUnavailableError {
    this.log(describeFailure(error, this.secrets), `serviceKeyStore.${method} failed`);
    return gradesError('SERVICE_KEY_STORE_FAILED', {
      message: `The service key store failed (serviceKeyStore.${method}), so no service key could be read for grading outside a launch; see the log, and try again later.`,
      cause: storageCause(`serviceKeyStore.${method}`, error),
    });
  }

  /** A logger that throws must not turn a handled failure into an unhandled one. */
  private log(fields: Record<string, unknown>, message: string): void {
    try {
      this.logger.error(fields, message);
    } catch {
      // Nothing left to tell.
    }
  }
}
