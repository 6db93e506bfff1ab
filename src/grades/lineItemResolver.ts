// Finds or creates the grade-book column for an activity, once per grade book, through the line item registry.
import { isUnreadableCreation } from '../client/upstreamErrors';
import { gradesError, isLtiaasGradesError, type LtiaasUnavailableError } from '../errors';
import type { CallOptions } from '../client/transport';
import type { LineItemRegistry } from '../state/lineItemRegistry';
import type { LineItem } from '../types';
import type { ValidLineItemSpec } from './lineItemSchema';
import type { ColumnOperations } from './lineItems';

/**
 * Picks the column for a spec among listed ones: same `resourceId`, same `tag` when one is given.
 * When several match, the first in the LMS's order wins, so every instance that lists picks the same one.
 */
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
 *
 * The registry is single-flight only as far as it is shared. With `converge`, instances that share
 * nothing still end on one column: see {@link convergeAfterCreate}. A shared registry that
 * resolves alone for a while (its store does not answer) asks for that convergence too.
 */
export function resolveLineItem(
  registry: LineItemRegistry,
  scope: string,
  spec: ValidLineItemSpec,
  lineItems: ColumnOperations,
  resourceLinkId?: string,
  options?: CallOptions,
  converge = false,
): Promise<LineItem> {
  const key = lineItemKey(scope, spec);
  // Resolving alone (a shared registry whose store does not answer), a created column is converged as without shared state.
  return registry.resolve(key, (how) => findOrCreate(registry, key, spec, lineItems, resourceLinkId, options, converge || how?.alone === true));
}

/** Drops a kept column id the LMS no longer knows (404: the column was deleted), unless already replaced. */
export function forgetLineItem(registry: LineItemRegistry, scope: string, spec: ValidLineItemSpec, lineItemId: string): Promise<void> {
  return registry.forget(lineItemKey(scope, spec), lineItemId);
}

async function findOrCreate(
  registry: LineItemRegistry,
  key: string,
  spec: ValidLineItemSpec,
  lineItems: ColumnOperations,
  resourceLinkId?: string,
  options?: CallOptions,
  converge = false,
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
    let created: LineItem;
    try {
      created = await lineItems.create(body, options);
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
    return settled(converge ? await convergeAfterCreate(created, find, lineItems, options) : created);
  }
}

/**
 * After creating a column, lists the matching columns again and returns the first in the LMS's
 * order; when that is not the one just created, the created one is surplus and is deleted, only
 * if it holds no scores. Several instances without shared state (serverless, no Redis) may all
 * find nothing and all create; this makes them end on one column. It costs one more list per
 * column created (never per grade), hence opt-in.
 *
 * Why no score is lost and no column with scores is deleted:
 * - Nothing is posted to a created column before this check: the resolution's answer is the
 *   outcome of the check, and scores are posted only after resolution.
 * - Every resolution answers the first matching column of a listing (a search, or this check).
 *   The LMS lists in creation order and only ever appends, and convergence deletes only columns
 *   that were not first in their creator's listing; so the first column, once listed, stays first
 *   and is never deleted by any instance, and every instance that lists after it exists picks it.
 *   With a listing that shows what was created before it, no instance ever posts to a surplus
 *   column, which is why deleting it loses nothing.
 * - Defence against an LMS whose listing lags, or a person grading by hand: the surplus column's
 *   results are read first and a column holding any score is kept (two columns in the grade
 *   book, every score still there) rather than deleted.
 * - Only the creator deletes, only its own column, known by the id its create returned: a column
 *   created by a teacher or another instance is never touched.
 * - A failed check throws (the grade is retried or queued, and its next resolution searches
 *   first, so it picks the first column); a failed delete leaves an empty column, no grade in it.
 */
async function convergeAfterCreate(
  created: LineItem,
  find: () => Promise<LineItem | undefined>,
  lineItems: ColumnOperations,
  options?: CallOptions,
): Promise<LineItem> {
  // A listing that does not show the column just created knows nothing better: keep it.
  const first = (await find()) ?? created;
  if (first.id === created.id) return created;
  try {
    if (!(await lineItems.holdsScores(created.id, options))) await lineItems.delete(created.id, options);
  } catch {
    // Left in place: an empty surplus column is untidy but holds no grade; the grades go to `first`.
  }
  return first;
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
