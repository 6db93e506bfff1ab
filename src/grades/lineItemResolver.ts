// Finds or creates the grade-book column for an activity, once per grade book, through the line item registry.
import { isUnreadableCreation } from '../client/upstreamErrors';
import { gradesError, isLtiaasGradesError, type LtiaasUnavailableError } from '../errors';
import type { CallOptions } from '../client/transport';
import type { LineItemRegistry } from '../state/lineItemRegistry';
import type { LineItem } from '../types';
import type { ValidLineItemSpec } from './lineItemSchema';
import type { LineItems } from './lineItems';

/** Picks the column for a spec among listed ones: same `resourceId`, same `tag` when one is given. */
export function matchLineItem(items: readonly LineItem[], spec: ValidLineItemSpec): LineItem | undefined {
  const sameResource = items.filter((item) => item.resourceId === spec.resourceId);
  if (spec.tag !== undefined) return sameResource.find((item) => item.tag === spec.tag);
  // Without a tag, an untagged column is the exact match; a tagged one is the next best.
  return sameResource.find((item) => item.tag === undefined || item.tag === '') ?? sameResource[0];
}

/** The registry key of a spec's column: the grade book (`scope`, naming platform and context), `resourceId` and `tag`. */
export function lineItemKey(scope: string, spec: ValidLineItemSpec): string {
  return `${scope}\u0000${spec.resourceId}\u0000${spec.tag ?? ''}`;
}

/**
 * The line item for `spec` in `scope` (a string naming the platform and context).
 * `resourceLinkId` binds a created column to the launch's activity. Creating a column twice
 * makes a duplicate in the grade book, so the registry makes the resolution for one key a
 * single flight: every concurrent caller waits on it, and later callers reuse its result until
 * the entry ages out or is forgotten.
 */
export function resolveLineItem(
  registry: LineItemRegistry,
  scope: string,
  spec: ValidLineItemSpec,
  lineItems: LineItems,
  resourceLinkId?: string,
  options?: CallOptions,
): Promise<LineItem> {
  const key = lineItemKey(scope, spec);
  return registry.resolve(key, () => findOrCreate(registry, key, spec, lineItems, resourceLinkId, options));
}

/** Drops a kept column id the LMS no longer knows (404: the column was deleted), unless already replaced. */
export function forgetLineItem(registry: LineItemRegistry, scope: string, spec: ValidLineItemSpec, lineItemId: string): Promise<void> {
  return registry.forget(lineItemKey(scope, spec), lineItemId);
}

async function findOrCreate(
  registry: LineItemRegistry,
  key: string,
  spec: ValidLineItemSpec,
  lineItems: LineItems,
  resourceLinkId?: string,
  options?: CallOptions,
): Promise<LineItem> {
  /** A column found or created with a readable id: earlier unreadable creations no longer count. */
  const settled = async (item: LineItem): Promise<LineItem> => {
    await registry.clearUnreadableCreations(key);
    return item;
  };
  const find = async () =>
    matchLineItem(await lineItems.listAll({ resourceId: spec.resourceId, ...(spec.tag !== undefined ? { tag: spec.tag } : {}) }, options), spec);
  const found = await find();
  if (found) return settled(found);
  const body = {
    label: spec.label,
    scoreMaximum: spec.scoreMaximum,
    resourceId: spec.resourceId,
    ...(spec.tag !== undefined ? { tag: spec.tag } : {}),
    ...(spec.resourceLinkId ?? resourceLinkId ? { resourceLinkId: spec.resourceLinkId ?? resourceLinkId } : {}),
    ...(spec.startDateTime !== undefined ? { startDateTime: spec.startDateTime } : {}),
    ...(spec.endDateTime !== undefined ? { endDateTime: spec.endDateTime } : {}),
    ...(spec.gradesReleased !== undefined ? { gradesReleased: spec.gradesReleased } : {}),
  };
  for (;;) {
    const unreadable = await registry.unreadableCreations(key);
    if (unreadable >= MAX_UNREADABLE_CREATIONS) throw notCreatingAgain(unreadable);
    try {
      return await settled(await lineItems.create(body, options));
    } catch (error) {
      if (isUnreadableCreation(error)) {
        // LTIAAS said the column was created but its answer has no id: it most likely exists.
        // Counted across resolutions (outbox rounds), so that each round cannot add a column.
        await registry.setUnreadableCreations(key, unreadable + 1);
        const createdAfterAll = await find();
        if (createdAfterAll) return settled(createdAfterAll);
        continue;
      }
      // The create may have happened even though its answer was lost: look before trying again,
      // so a lost answer never becomes a second column.
      if (isLtiaasGradesError(error) && error.retryable) {
        const createdAfterAll = await find().catch(() => undefined);
        if (createdAfterAll) return settled(createdAfterAll);
      }
      throw error;
    }
  }
}

/**
 * The bound on creations whose answer could not be read: the first one and one further (in case
 * the first truly created nothing). Past it, the column is only searched for, and the grade
 * waits (in the outbox, with its backoff) instead of adding columns to the grade book.
 */
const MAX_UNREADABLE_CREATIONS = 2;

function notCreatingAgain(unreadable: number): LtiaasUnavailableError {
  return gradesError('LTIAAS_UNAVAILABLE', {
    status: 502,
    message:
      `LTIAAS answered ${unreadable} creations of this column (POST /api/lineitems) without a readable line item id, ` +
      'and GET /api/lineitems does not list it by resourceId and tag; no further column is created (it would be a duplicate in the grade book). ' +
      'The column will be searched for again; try again later.',
    retryable: true,
    upstream: { method: 'POST', endpoint: '/api/lineitems', kind: 'http' },
  });
}
