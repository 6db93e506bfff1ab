// The rules for line items, line item specs and list filters, checked before anything is sent.
import Joi from 'joi';
import { LruCache } from '../cache/lruCache';
import { gradesError } from '../errors';

/** A line item spec after validation (dates as ISO strings, label trimmed). */
export interface ValidLineItemSpec {
  resourceId: string;
  label: string;
  scoreMaximum: number;
  tag?: string;
  resourceLinkId?: string;
  startDateTime?: string;
  endDateTime?: string;
  gradesReleased?: boolean;
}

const isoDate = Joi.date().iso().custom((value: Date) => value.toISOString());
const nonBlank = Joi.string().max(1024).pattern(/\S/).messages({ 'string.pattern.base': '{{#label}} must not be blank' });

const lineItemFields = {
  label: Joi.string().trim().min(1).max(1024).required().messages({ 'string.empty': '{{#label}} must not be blank' }),
  scoreMaximum: Joi.number().strict().greater(0).required(),
  resourceLinkId: nonBlank,
  resourceId: nonBlank,
  tag: nonBlank,
  startDateTime: isoDate,
  endDateTime: isoDate,
  gradesReleased: Joi.boolean().strict(),
};

const lineItemInputSchema = Joi.object(lineItemFields).required();
const lineItemSpecSchema = Joi.object({ ...lineItemFields, resourceId: nonBlank.required() }).required();

const filtersSchema = Joi.object({
  resourceLinkId: nonBlank,
  resourceId: nonBlank,
  tag: nonBlank,
  limit: Joi.number().strict().integer().min(1),
  url: Joi.string().uri({ scheme: ['http', 'https'] }),
}).default({});

const resultFiltersSchema = Joi.object({
  userId: nonBlank,
  limit: Joi.number().strict().integer().min(1),
  url: Joi.string().uri({ scheme: ['http', 'https'] }),
}).default({});

function check<T>(schema: Joi.Schema, input: unknown, what: string): T {
  const { value, error } = schema.validate(input, { abortEarly: true });
  if (error) {
    throw gradesError('LINE_ITEM_INVALID', { message: `Invalid ${what}: ${error.details[0]!.message}.` });
  }
  return value as T;
}

/**
 * Specs already found valid, by their fields. A tool's `lineItem: (req) => spec` hands over one
 * of a few specs on every submission: joi checks each once, later ones are found here. Kept only
 * for plain objects of strings, numbers, booleans and undefined (anything else is checked every
 * time), and frozen, so that no caller can change what another is handed.
 */
const validSpecs = new LruCache<string, Readonly<ValidLineItemSpec>>({ max: 1000, ttlMs: Number.POSITIVE_INFINITY });

/** The cache key of a spec made of plain values (with each value's type, so 10 and '10' differ); undefined for anything else. */
function plainSpecKey(input: unknown): string | undefined {
  if (typeof input !== 'object' || input === null) return undefined;
  const prototype = Object.getPrototypeOf(input) as unknown;
  if (prototype !== Object.prototype && prototype !== null) return undefined;
  const parts: string[] = [];
  for (const [key, value] of Object.entries(input)) {
    const type = typeof value;
    if (type !== 'string' && type !== 'number' && type !== 'boolean' && type !== 'undefined') return undefined;
    parts.push(key, type, String(value));
  }
  return JSON.stringify(parts);
}

/** A spec for find-or-create: `resourceId`, `label`, `scoreMaximum` required. Throws LINE_ITEM_INVALID. */
export function validateLineItemSpec(input: unknown): Readonly<ValidLineItemSpec> {
  const key = plainSpecKey(input);
  const known = key === undefined ? undefined : validSpecs.get(key);
  if (known) return known;
  const valid = Object.freeze(check<ValidLineItemSpec>(lineItemSpecSchema, input, 'line item spec'));
  if (key !== undefined) validSpecs.set(key, valid);
  return valid;
}

/** A line item for create or update: `label` and `scoreMaximum` required. Throws LINE_ITEM_INVALID. */
export const validateLineItemInput = (input: unknown) =>
  check<Omit<ValidLineItemSpec, 'resourceId'> & { resourceId?: string }>(lineItemInputSchema, input, 'line item');

export const validateLineItemFilters = (input: unknown) =>
  check<{ resourceLinkId?: string; resourceId?: string; tag?: string; limit?: number; url?: string }>(
    filtersSchema,
    input,
    'line item filters',
  );

export const validateResultFilters = (input: unknown) =>
  check<{ userId?: string; limit?: number; url?: string }>(resultFiltersSchema, input, 'score filters');

/** A line item id is an absolute URL chosen by the LMS; anything else is a bug in the caller. */
export function validateLineItemId(lineItemId: unknown): string {
  if (typeof lineItemId !== 'string' || lineItemId.trim() === '') {
    throw gradesError('LINE_ITEM_INVALID', { message: 'Invalid line item id: it must be a non-empty string (the LMS URL of the line item).' });
  }
  return lineItemId;
}
