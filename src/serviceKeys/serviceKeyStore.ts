// Where the service key of each launch is kept for grading later, outside any launch.

/** One activity's service key and the launch facts that name it. */
export interface ServiceKeyRecord {
  platformId: string;
  contextId: string;
  resourceLinkId: string;
  /** Secret: grants grade access to this activity with the API key. */
  serviceKey: string;
  /** The activity's own line item, when the LMS coupled one to the link. */
  lineItemId?: string;
  contextTitle?: string;
  resourceLinkTitle?: string;
  /** When a launch last confirmed this key (ISO). */
  updatedAt: string;
}

/** Which activity. */
export interface ServiceKeyRef {
  platformId: string;
  contextId: string;
  resourceLinkId: string;
}

/**
 * Stores service keys by platform, context and resource link. The package calls `save` on each
 * launch where grading is available (LTIAAS advises refreshing the copy, as context data can go
 * stale). Implement it over your database, or use `fileServiceKeyStore`.
 */
export interface ServiceKeyStore {
  save(record: ServiceKeyRecord): Promise<void>;
  get(ref: ServiceKeyRef): Promise<ServiceKeyRecord | undefined>;
  list(filter?: Partial<Pick<ServiceKeyRef, 'platformId' | 'contextId'>>): Promise<ServiceKeyRecord[]>;
}

export function isServiceKeyStore(value: unknown): value is ServiceKeyStore {
  const store = value as Partial<ServiceKeyStore> | null;
  // A store that throws when looked at is no store; what it threw is never quoted (it may hold a key).
  try {
    return typeof store === 'object' && store !== null && typeof store.save === 'function' && typeof store.get === 'function' && typeof store.list === 'function';
  } catch {
    return false;
  }
}
