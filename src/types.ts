// The shapes LTIAAS answers with (ID token, line items, results), parsed leniently as ltiaas-api.md decides.

/**
 * The launch's ID token as LTIAAS formats it. Unknown fields are kept; the fields relied on
 * (`user.id`, `platform.id`, `services.assignmentAndGrades.available`, and the ids of the
 * context, resource link and coupled line item when present) are checked on arrival.
 */
export interface IdToken {
  user: {
    id: string;
    roles: string[];
    name?: string;
    email?: string;
    givenName?: string;
    familyName?: string;
    [key: string]: unknown;
  };
  platform: {
    id: string;
    url?: string;
    clientId?: string;
    deploymentId?: string;
    name?: string;
    productFamilyCode?: string;
    [key: string]: unknown;
  };
  launch: {
    type?: string;
    target?: string;
    context?: { id: string; label?: string; title?: string; type?: string[]; [key: string]: unknown };
    resourceLink?: { id: string; title?: string; description?: string; [key: string]: unknown };
    presentation?: unknown;
    custom?: Record<string, unknown>;
    [key: string]: unknown;
  };
  services: {
    assignmentAndGrades: { available: boolean; lineItemId?: string; [key: string]: unknown };
    namesAndRoles?: { available: boolean };
    deepLinking?: { available: boolean };
    outcomes?: { available: boolean };
    serviceKey?: string;
    [key: string]: unknown;
  };
  ltiVersion?: string;
  [key: string]: unknown;
}

/** A grade-book column. `id` is an absolute URL chosen by the LMS. */
export interface LineItem {
  id: string;
  label: string;
  scoreMaximum: number;
  resourceLinkId?: string;
  resourceId?: string;
  tag?: string;
  startDateTime?: string;
  endDateTime?: string;
  gradesReleased?: boolean;
  [key: string]: unknown;
}

/** One page of line items. `next` is the LMS's URL of the following page, when there is one. */
export interface LineItemsPage {
  lineItems: LineItem[];
  next?: string;
  prev?: string;
  first?: string;
  last?: string;
}

/** Filters of a line item list. `url` (a `next` link) fetches that page and ignores the rest. */
export interface LineItemFilters {
  resourceLinkId?: string;
  resourceId?: string;
  tag?: string;
  limit?: number;
  url?: string;
}

/** What the LMS reports back for one user on one line item. */
export interface Result {
  id?: string;
  userId: string;
  scoreOf?: string;
  timestamp?: string;
  resultScore?: number;
  resultMaximum?: number;
  comment?: string;
  [key: string]: unknown;
}

export interface ResultsPage {
  scores: Result[];
  next?: string;
  prev?: string;
  first?: string;
  last?: string;
}

export interface ResultFilters {
  userId?: string;
  limit?: number;
  url?: string;
}

export type ActivityProgress = 'Initialized' | 'Started' | 'InProgress' | 'Submitted' | 'Completed';
export type GradingProgress = 'FullyGraded' | 'Pending' | 'PendingManual' | 'Failed' | 'NotReady';

/**
 * A score as the tool gives it. `userId` and `timestamp` are not part of it: the package takes the
 * user from the ID token (or from the batch entry) and stamps the time itself.
 */
export interface ScoreInput {
  /** Points earned, a finite number >= 0. 0 is a grade; more than `scoreMaximum` is extra credit. */
  scoreGiven?: number;
  /** Points possible, > 0. Required with `scoreGiven`. */
  scoreMaximum?: number;
  /** Plain-text comment. Omitting it clears an earlier one in most LMSes, so send it every time. */
  comment?: string;
  /** Default `Completed`. */
  activityProgress?: ActivityProgress;
  /** Default `FullyGraded`. */
  gradingProgress?: GradingProgress;
  /** When the work was started and submitted (Canvas decides lateness from `submittedAt`). */
  submission?: { startedAt?: string | Date; submittedAt?: string | Date };
  /** The LTI user id of the grader, for instructor grading. */
  scoringUserId?: string;
  /** LMS extension claims keyed by full URL, e.g. Canvas's `https://canvas.instructure.com/lti/submission`. */
  [extension: `http://${string}` | `https://${string}`]: unknown;
}

/** The score as sent on the wire: validated, defaults filled, user and timestamp added. */
export interface ScorePayload {
  userId: string;
  scoreGiven?: number;
  scoreMaximum?: number;
  comment?: string;
  activityProgress: ActivityProgress;
  gradingProgress: GradingProgress;
  timestamp: string;
  submission?: { startedAt?: string; submittedAt?: string };
  scoringUserId?: string;
  [extension: string]: unknown;
}

/** How to find (or create) the tool's grade-book column for an activity. */
export interface LineItemSpec {
  /** The tool's own id for the activity, e.g. `quiz-231`. The column is found by it. */
  resourceId: string;
  /** Column title in the grade book. Non-blank. */
  label: string;
  /** Points possible, > 0. */
  scoreMaximum: number;
  /** Optional second key (e.g. `final`, `attempt-2`): found by `resourceId` and `tag` together. */
  tag?: string;
  /** Bind the column to this resource link; defaults to the launch's resource link. */
  resourceLinkId?: string;
  startDateTime?: string | Date;
  endDateTime?: string | Date;
  gradesReleased?: boolean;
}

/** Fields of a line item for create and update calls. */
export interface LineItemInput {
  label: string;
  scoreMaximum: number;
  resourceLinkId?: string;
  resourceId?: string;
  tag?: string;
  startDateTime?: string | Date;
  endDateTime?: string | Date;
  gradesReleased?: boolean;
}

/** The outcome of a delivered score. */
export interface SubmittedGrade {
  status: 'submitted';
  lineItemId: string;
  userId: string;
  scoreGiven?: number;
  scoreMaximum?: number;
  timestamp: string;
}

/** A grade held by the outbox, to be delivered later. */
export interface QueuedGrade {
  status: 'queued';
  id: string;
  lineItemId?: string;
  userId?: string;
  scoreGiven?: number;
  scoreMaximum?: number;
}

export type SubmitOutcome = SubmittedGrade | QueuedGrade;
