// The rules a score must meet before anything is sent, and the validated value that goes on the wire.
import Joi from 'joi';
import { gradesError, type InvalidGradeError } from '../errors';
import type { ScoreInput } from '../types';

export const ACTIVITY_PROGRESS = ['Initialized', 'Started', 'InProgress', 'Submitted', 'Completed'] as const;
export const GRADING_PROGRESS = ['FullyGraded', 'Pending', 'PendingManual', 'Failed', 'NotReady'] as const;

/** A score after validation: defaults filled, dates as ISO strings; no user, no timestamp yet. */
export interface ValidScore {
  scoreGiven?: number;
  scoreMaximum?: number;
  comment?: string;
  activityProgress: (typeof ACTIVITY_PROGRESS)[number];
  gradingProgress: (typeof GRADING_PROGRESS)[number];
  submission?: { startedAt?: string; submittedAt?: string };
  scoringUserId?: string;
  [extension: string]: unknown;
}

const isoDate = Joi.date().iso().custom((value: Date) => value.toISOString());

const scoreFields = {
  // strict(): a string "7" is a bug in the tool's scoring, not a score.
  scoreGiven: Joi.number().strict().min(0),
  scoreMaximum: Joi.number()
    .strict()
    .greater(0)
    .when('scoreGiven', { is: Joi.exist(), then: Joi.required() }),
  comment: Joi.string().allow('').max(10_000),
  activityProgress: Joi.string()
    .valid(...ACTIVITY_PROGRESS)
    .default('Completed'),
  gradingProgress: Joi.string()
    .valid(...GRADING_PROGRESS)
    .default('FullyGraded'),
  submission: Joi.object({ startedAt: isoDate, submittedAt: isoDate }),
  scoringUserId: Joi.string().min(1),
};

/** A launch's score: the user comes from the ID token, so `userId` is refused. */
const launchScoreSchema = Joi.object(scoreFields)
  .pattern(/^https?:\/\//, Joi.any())
  .required();

/** A batch entry: graded outside a launch, so the caller names the user. */
const userScoreSchema = Joi.object({ ...scoreFields, userId: Joi.string().min(1).required() })
  .pattern(/^https?:\/\//, Joi.any())
  .required();

const WHY_NOT: Record<string, string> = {
  userId: 'the user is taken from the launch\'s ID token, never from the score',
  timestamp: 'the package stamps each score itself, strictly increasing per line item and user',
};

function invalidScore(error: Joi.ValidationError): InvalidGradeError {
  const detail = error.details[0]!;
  const key = String(detail.path[0] ?? '');
  const reason = detail.type === 'object.unknown' && WHY_NOT[key] ? `"${key}" is not allowed: ${WHY_NOT[key]}` : detail.message;
  return gradesError('SCORE_INVALID', { message: `Invalid score: ${reason}.` });
}

/** Validates a launch score; throws SCORE_INVALID (400). Never mutates `input`. */
export function validateScore(input: unknown): ValidScore {
  const { value, error } = launchScoreSchema.validate(input, { abortEarly: true });
  if (error) throw invalidScore(error);
  return value as ValidScore;
}

/** Validates a score that names its user (batch grading); throws SCORE_INVALID (400). */
export function validateUserScore(input: unknown): ValidScore & { userId: string } {
  const { value, error } = userScoreSchema.validate(input, { abortEarly: true });
  if (error) throw invalidScore(error);
  return value as ValidScore & { userId: string };
}

export type { ScoreInput };
