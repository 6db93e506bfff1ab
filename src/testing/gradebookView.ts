// The data the grade-book page shows (also served as /gradebook.json), secrets already masked.
import type { ContextRegistry } from './contexts';
import type { Gradebook } from './gradebook';
import type { PlatformRegistry } from './platforms';
import type { RequestLog, RequestLogEntry } from './requestLog';
import type { SecretMasker } from './secrets';

export interface GradebookUserRow {
  userId: string;
  name?: string;
  /** false for a user who has scores but is no longer on the roster. */
  enrolled: boolean;
  gradable: boolean;
  scoresReceived: number;
  latest?: {
    scoreGiven?: number;
    scoreMaximum?: number;
    activityProgress: string;
    gradingProgress: string;
    comment?: string;
    timestamp: string;
  };
}

export interface GradebookLineItemView {
  id: string;
  label: string;
  scoreMaximum: number;
  resourceId?: string;
  tag?: string;
  resourceLinkId?: string;
  users: GradebookUserRow[];
}

export interface GradebookContextView {
  platformId: string;
  platformUrl: string;
  contextId: string;
  title?: string;
  label?: string;
  lineItems: GradebookLineItemView[];
}

export interface GradebookView {
  generatedAt: string;
  contexts: GradebookContextView[];
  /** The last requests of the log, oldest first. */
  requests: Pick<RequestLogEntry, 'at' | 'method' | 'path' | 'authScheme' | 'status' | 'fault'>[];
}

export const PAGE_REQUEST_COUNT = 50;

export interface GradebookSources {
  platforms: PlatformRegistry;
  contexts: ContextRegistry;
  gradebook: Gradebook;
  log: RequestLog;
  masker: SecretMasker;
}

export function buildGradebookView(sources: GradebookSources): GradebookView {
  const { platforms, contexts, gradebook, log, masker } = sources;
  const view: GradebookView = {
    generatedAt: new Date().toISOString(),
    contexts: contexts.all().map((context) => ({
      platformId: context.platformId,
      platformUrl: platforms.get(context.platformId)?.url ?? '',
      contextId: context.contextId,
      ...(context.title === undefined ? {} : { title: context.title }),
      ...(context.label === undefined ? {} : { label: context.label }),
      lineItems: gradebook.inContext(context).map((item): GradebookLineItemView => {
        const snapshot = gradebook.snapshot(item);
        const latestByUser = new Map(gradebook.latestScores(item).map((score) => [score.userId, score]));
        // Everyone on the roster (a missing grade is worth seeing), then anyone graded who has left it.
        const userIds = [...new Set([...context.roster.keys(), ...latestByUser.keys()])];
        return {
          id: snapshot.id,
          label: snapshot.label,
          scoreMaximum: snapshot.scoreMaximum,
          ...pick(snapshot, ['resourceId', 'tag', 'resourceLinkId']),
          users: userIds.map((userId): GradebookUserRow => {
            const member = context.roster.get(userId);
            const latest = latestByUser.get(userId);
            return {
              userId,
              ...(member?.name === undefined ? {} : { name: member.name }),
              enrolled: member !== undefined,
              gradable: member?.gradable ?? false,
              scoresReceived: snapshot.scores.filter((score) => score.userId === userId).length,
              ...(latest === undefined
                ? {}
                : {
                    latest: {
                      ...pick(latest, ['scoreGiven', 'scoreMaximum', 'comment']),
                      activityProgress: latest.activityProgress,
                      gradingProgress: latest.gradingProgress,
                      timestamp: latest.timestamp ?? latest.receivedAt,
                    },
                  }),
            };
          }),
        };
      }),
    })),
    requests: log.latest(PAGE_REQUEST_COUNT).map(({ at, method, path, authScheme, status, fault }) => ({
      at,
      method,
      path,
      authScheme,
      status,
      ...(fault === undefined ? {} : { fault }),
    })),
  };
  // The log is masked already; scores and labels are whatever clients sent, so mask once more over everything.
  return masker.maskDeep(view) as GradebookView;
}

function pick<T extends object, K extends keyof T>(source: T, keys: K[]): Partial<Pick<T, K>> {
  const picked: Partial<Pick<T, K>> = {};
  for (const key of keys) if (source[key] !== undefined) picked[key] = source[key];
  return picked;
}
