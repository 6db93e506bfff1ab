// The request body rules LTIAAS applies to line items and scores before it forwards anything to the LMS.
import { LtiaasApiError } from './errors';
import { isIsoDateTime } from './timestamps';

export const ACTIVITY_PROGRESS = ['Initialized', 'Started', 'InProgress', 'Submitted', 'Completed'] as const;
export const GRADING_PROGRESS = ['FullyGraded', 'Pending', 'PendingManual', 'Failed', 'NotReady'] as const;
export type ActivityProgress = (typeof ACTIVITY_PROGRESS)[number];
export type GradingProgress = (typeof GRADING_PROGRESS)[number];

export interface LineItemFields {
  label: string;
  scoreMaximum: number;
  resourceId?: string;
  tag?: string;
  resourceLinkId?: string;
  startDateTime?: string;
  endDateTime?: string;
  gradesReleased?: boolean;
}

/** A score as the LMS accepted it. Fields beyond AGS (Canvas extension URLs, ...) pass through as sent. */
export interface ScoreFields {
  userId: string;
  activityProgress: ActivityProgress;
  gradingProgress: GradingProgress;
  scoreGiven?: number;
  scoreMaximum?: number;
  comment?: string;
  timestamp?: string;
  submission?: { startedAt?: string; submittedAt?: string };
  scoringUserId?: string;
  [extension: string]: unknown;
}

export interface ValidationIssue {
  field: string;
  rule: string;
}

const OPTIONAL_LINE_ITEM_STRINGS = ['resourceId', 'tag', 'resourceLinkId'] as const;
const OPTIONAL_LINE_ITEM_DATES = ['startDateTime', 'endDateTime'] as const;

/** Validates a POST/PUT line item body; unknown fields are dropped, as the LMS does not store them. */
export function validateLineItemBody(body: unknown): LineItemFields {
  const object = requireObject(body);
  const issues: ValidationIssue[] = [];
  const { label, scoreMaximum } = object;
  if (typeof label !== 'string' || label.trim() === '') issues.push({ field: 'label', rule: 'must be a non-blank string' });
  if (!isPositiveNumber(scoreMaximum)) issues.push({ field: 'scoreMaximum', rule: 'must be a number > 0' });
  for (const field of OPTIONAL_LINE_ITEM_STRINGS) {
    if (object[field] !== undefined && typeof object[field] !== 'string') issues.push({ field, rule: 'must be a string' });
  }
  for (const field of OPTIONAL_LINE_ITEM_DATES) {
    if (object[field] !== undefined && !isIsoDateTime(object[field])) {
      issues.push({ field, rule: 'must be an ISO 8601 date-time with offset' });
    }
  }
  if (object.gradesReleased !== undefined && typeof object.gradesReleased !== 'boolean') {
    issues.push({ field: 'gradesReleased', rule: 'must be a boolean' });
  }
  throwIfAny(issues);

  const fields: LineItemFields = { label: label as string, scoreMaximum: scoreMaximum as number };
  for (const field of [...OPTIONAL_LINE_ITEM_STRINGS, ...OPTIONAL_LINE_ITEM_DATES]) {
    if (object[field] !== undefined) fields[field] = object[field] as string;
  }
  if (object.gradesReleased !== undefined) fields.gradesReleased = object.gradesReleased as boolean;
  return fields;
}

/** Validates a score body; returns the score to record (nulls meaning "none" removed, extensions kept). */
export function validateScoreBody(body: unknown): ScoreFields {
  const object = requireObject(body);
  const issues: ValidationIssue[] = [];
  // Many clients send null for "no score" / "no comment"; the LMS reads that as absent.
  const score: Record<string, unknown> = { ...object };
  for (const field of ['scoreGiven', 'scoreMaximum', 'comment']) {
    if (score[field] === null) delete score[field];
  }

  if (typeof score.userId !== 'string' || score.userId === '') issues.push({ field: 'userId', rule: 'is required: a non-empty string' });
  if (!ACTIVITY_PROGRESS.includes(score.activityProgress as ActivityProgress)) {
    issues.push({ field: 'activityProgress', rule: `must be one of ${ACTIVITY_PROGRESS.join(', ')}` });
  }
  if (!GRADING_PROGRESS.includes(score.gradingProgress as GradingProgress)) {
    issues.push({ field: 'gradingProgress', rule: `must be one of ${GRADING_PROGRESS.join(', ')}` });
  }
  if (score.scoreGiven !== undefined) {
    // 0 is a grade; above scoreMaximum is extra credit. Only negatives and non-numbers are wrong.
    if (typeof score.scoreGiven !== 'number' || !Number.isFinite(score.scoreGiven) || score.scoreGiven < 0) {
      issues.push({ field: 'scoreGiven', rule: 'must be a finite number >= 0' });
    }
    if (score.scoreMaximum === undefined) issues.push({ field: 'scoreMaximum', rule: 'is required when scoreGiven is present' });
  }
  if (score.scoreMaximum !== undefined && !isPositiveNumber(score.scoreMaximum)) {
    issues.push({ field: 'scoreMaximum', rule: 'must be a number > 0' });
  }
  for (const field of ['comment', 'scoringUserId']) {
    if (score[field] !== undefined && typeof score[field] !== 'string') issues.push({ field, rule: 'must be a string' });
  }
  if (score.timestamp !== undefined && !isIsoDateTime(score.timestamp)) {
    issues.push({ field: 'timestamp', rule: 'must be an ISO 8601 date-time with offset' });
  }
  if (score.submission !== undefined) issues.push(...submissionIssues(score.submission));
  throwIfAny(issues);
  return score as ScoreFields;
}

function submissionIssues(submission: unknown): ValidationIssue[] {
  if (typeof submission !== 'object' || submission === null || Array.isArray(submission)) {
    return [{ field: 'submission', rule: 'must be an object' }];
  }
  const issues: ValidationIssue[] = [];
  for (const [field, value] of Object.entries(submission)) {
    if ((field === 'startedAt' || field === 'submittedAt') && !isIsoDateTime(value)) {
      issues.push({ field: `submission.${field}`, rule: 'must be an ISO 8601 date-time with offset' });
    }
  }
  return issues;
}

function requireObject(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new LtiaasApiError(400, 'INVALID_BODY_PARAMETERS', 'The request body must be a JSON object.', {
      issues: [{ field: '(body)', rule: 'must be a JSON object' }],
    });
  }
  return body as Record<string, unknown>;
}

function isPositiveNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0;
}

// Field names and rules only, never the values received: a value could be a secret sent by mistake.
function throwIfAny(issues: ValidationIssue[]): void {
  if (issues.length === 0) return;
  throw new LtiaasApiError(
    400,
    'INVALID_BODY_PARAMETERS',
    issues.map((issue) => `${issue.field} ${issue.rule}`).join('; ') + '.',
    { issues },
  );
}
