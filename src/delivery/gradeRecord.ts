// The two conversions between a grade's in-memory delivery state and the plain record the outbox stores.
import type { ValidLineItemSpec } from '../grades/lineItemSchema';
import type { ValidScore } from '../grades/scoreSchema';
import type { GradeRecord } from '../outbox/outboxTypes';
import type { DeliveryState } from './deliveryState';

/** Copies the set fields only: a record never holds `undefined`, and never shares an object with the state. */
function definedFields<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter((entry) => entry[1] !== undefined)) as T;
}

/** Through JSON, as the record is stored: the job held in memory is then the very job a restart reads back. */
const copyScore = (score: ValidScore): ValidScore => JSON.parse(JSON.stringify(score)) as ValidScore;
const copySpec = (spec: ValidLineItemSpec): ValidLineItemSpec => ({ ...spec });

/** The record the outbox stores for this state: plain JSON fields, a copy (later changes to the state do not reach it). */
export function toGradeRecord(state: DeliveryState): GradeRecord {
  return definedFields<GradeRecord>({
    ltik: state.ltik,
    serviceKey: state.serviceKey,
    userId: state.userId,
    scope: state.scope,
    resourceLinkId: state.resourceLinkId,
    lineItemSpec: state.lineItemSpec && copySpec(state.lineItemSpec),
    fixedLineItemId: state.fixedLineItemId,
    score: copyScore(state.score),
    timestamp: state.timestamp,
    lineItemId: state.lineItemId,
    traceparent: state.traceparent,
  });
}

/** A fresh delivery state for a stored record (a copy: the delivery may fill it in without touching the record). */
export function fromGradeRecord(record: GradeRecord): DeliveryState {
  return definedFields<DeliveryState>({
    ltik: record.ltik,
    serviceKey: record.serviceKey,
    userId: record.userId,
    scope: record.scope,
    resourceLinkId: record.resourceLinkId,
    lineItemSpec: record.lineItemSpec && copySpec(record.lineItemSpec),
    fixedLineItemId: record.fixedLineItemId,
    score: copyScore(record.score),
    timestamp: record.timestamp,
    lineItemId: record.lineItemId,
    traceparent: record.traceparent,
  });
}
