// What the package relies on in each LTIAAS answer: one joi schema per endpoint, and where an answer breaks it.
import Joi from 'joi';

/**
 * Only the fields the package acts on are checked (unknown fields are kept, as ltiaas-api.md
 * decides): a user id that names the student, a flag that says grading is possible, ids that
 * name the grade book and the column. Types are strict (no conversion): a `"true"` or a
 * numeric id is a broken answer, not something to guess about.
 */

/** An id the package puts in a path, a cache key or a score: a string with something besides spaces. */
const id = Joi.string().min(1).pattern(/\S/);

/** A paging link: absent, empty and null all mean "no more pages". */
const pageLink = Joi.string().allow('', null);

const lineItem = Joi.object({
  id: id.required(),
  label: Joi.string().allow('').required(),
  scoreMaximum: Joi.number().required(),
}).unknown(true);

const result = Joi.object({
  userId: id.required(),
}).unknown(true);

/** `GET /api/idtoken`. */
export const idTokenAnswer = Joi.object({
  user: Joi.object({ id: id.required() }).unknown(true).required(),
  // The platform id names the grade book (with the context): without it, two platforms would share columns.
  platform: Joi.object({ id: id.required() }).unknown(true).required(),
  launch: Joi.object({
    context: Joi.object({ id: id.required() }).unknown(true).allow(null),
    resourceLink: Joi.object({ id: id.required() }).unknown(true).allow(null),
  })
    .unknown(true)
    .allow(null),
  services: Joi.object({
    assignmentAndGrades: Joi.object({
      available: Joi.boolean().required(),
      lineItemId: Joi.string().allow('', null),
    })
      .unknown(true)
      .required(),
    serviceKey: Joi.string().allow('', null),
  })
    .unknown(true)
    .required(),
})
  .unknown(true)
  .required();

/** `GET /api/lineitems` (one page). */
export const lineItemsPageAnswer = Joi.object({
  lineItems: Joi.array().items(lineItem).required(),
  next: pageLink,
  prev: pageLink,
  first: pageLink,
  last: pageLink,
})
  .unknown(true)
  .required();

/** `GET /api/lineitems/:lineItemId`. */
export const lineItemAnswer = lineItem.required();

/** `POST /api/lineitems` (201), and `PUT /api/lineitems/:lineItemId`: only the column's id is needed; the rest is what was sent. */
export const createdLineItemAnswer = Joi.object({ id: id.required() }).unknown(true).required();

/** `GET /api/lineitems/:lineItemId/scores` (one page). */
export const resultsPageAnswer = Joi.object({
  scores: Joi.array().items(result).required(),
  next: pageLink,
  prev: pageLink,
  first: pageLink,
  last: pageLink,
})
  .unknown(true)
  .required();

/** Where an answer breaks its schema, in words that never quote a value (it may hold an ltik or a key). */
export interface AnswerProblem {
  /** The field's path, e.g. `lineItems[2].id`, or `body` for the whole answer. */
  field: string;
  /** What is wrong with it, e.g. `is missing`. */
  problem: string;
}

const PROBLEMS: Record<string, string> = {
  'any.required': 'is missing',
  'object.base': 'is not an object',
  'array.base': 'is not a list',
  'array.sparse': 'is missing',
  'string.base': 'is not a string',
  'string.empty': 'is empty',
  'string.min': 'is empty',
  'string.pattern.base': 'is blank',
  'number.base': 'is not a number',
  'number.infinity': 'is not a finite number',
  'boolean.base': 'is not true or false',
};

function pathOf(path: ReadonlyArray<string | number>): string {
  return path.map((part, index) => (typeof part === 'number' ? `[${part}]` : index === 0 ? part : `.${part}`)).join('');
}

function bodyProblem(data: unknown): string {
  if (data === undefined || data === null || data === '') return 'is empty';
  return typeof data === 'string' ? 'is not JSON' : 'is not a JSON object';
}

/** The answer as joi returns it, or the first field that breaks the schema. */
export function checkAnswer<T>(schema: Joi.Schema, data: unknown): { value: T } | { problem: AnswerProblem } {
  const { value, error } = schema.validate(data, { convert: false, abortEarly: true });
  if (!error) return { value: value as T };
  const detail = error.details[0]!;
  if (detail.path.length === 0) return { problem: { field: 'body', problem: bodyProblem(data) } };
  return { problem: { field: pathOf(detail.path), problem: PROBLEMS[detail.type] ?? 'has a value that cannot be used' } };
}
