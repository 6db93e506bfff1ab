// Launches: the ltiks, service keys and ID tokens (formatted and raw) LTIAAS would hand a tool for the launches a test describes.
import { randomBytes } from 'node:crypto';
import type { Grant } from './auth';
import type { ContextRegistry } from './contexts';
import type { Gradebook } from './gradebook';
import type { PlatformRegistry } from './platforms';
import { buildRawIdToken, type EmulatedRawIdToken } from './rawIdToken';
import { gradableByDefault, rolesFor, type RoleShorthand } from './roles';
import { validateLineItemBody } from './validation';

export interface LaunchDescription {
  /** Default id: 'user-<n>', a new one per launch. */
  user?: { id?: string; name?: string; email?: string; roles?: string[] };
  /** Shorthand for user.roles (ignored when roles are given); default 'learner'. */
  role?: RoleShorthand;
  /** Default id 'course-1'. */
  context?: { id?: string; title?: string; label?: string };
  /** Default id 'resource-link-1'. */
  resourceLink?: { id?: string; title?: string };
  /** Default: the emulator's default platform ('platform-1', the emulator's platformUrl, Moodle). */
  platform?: { id?: string; url?: string; name?: string; productFamilyCode?: string };
  /** Whether the Assignment and Grades service is available; default true. */
  grades?: boolean;
  /**
   * Whether the Names and Roles Provisioning service is available; default false. When it is,
   * GET /api/memberships serves the course's roster: every user launched into it or enroll()ed.
   */
  namesAndRoles?: boolean;
  /**
   * The coupled line item: a spec finds (by resource link) or creates one bound to this resource link;
   * a string is the id of an existing line item of this course; null/undefined means none.
   */
  lineItem?: { label: string; scoreMaximum: number; resourceId?: string; tag?: string } | string | null;
  /** Whether the LMS accepts scores for this user; default true for learners, false for instructors. */
  gradable?: boolean;
  /** Issue the ltik already expired. */
  expired?: boolean;
}

/** The ID token as GET /api/idtoken formats it. */
export interface EmulatedIdToken {
  user: { id: string; roles: string[]; name?: string; email?: string; givenName?: string; familyName?: string };
  platform: { id: string; url: string; clientId: string; deploymentId: string; name: string; productFamilyCode?: string };
  launch: {
    type: 'LtiResourceLinkRequest';
    target: string;
    context: { id: string; label?: string; title?: string; type: string[] };
    resourceLink: { id: string; title?: string };
    presentation: { documentTarget: string; locale: string };
    custom: Record<string, string>;
  };
  services: {
    assignmentAndGrades: { available: boolean; lineItemId?: string };
    namesAndRoles: { available: boolean };
    deepLinking: { available: boolean };
    outcomes: { available: boolean };
    serviceKey?: string;
  };
  ltiVersion: '1.3.0';
}

export interface EmulatedLaunch {
  ltik: string;
  serviceKey?: string;
  userId: string;
  contextId: string;
  resourceLinkId: string;
  platformId: string;
  lineItemId?: string;
  idToken: EmulatedIdToken;
}

interface LaunchRecord {
  expiresAtMs: number;
  revoked: boolean;
  idToken: EmulatedIdToken;
  rawIdToken: EmulatedRawIdToken;
  grant: Grant;
}

const COURSE_OFFERING = 'http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering';
// Where LTIAAS would have redirected the launch; the emulator never calls it.
const TOOL_LAUNCH_TARGET = 'https://tool.example.com/launch';

export class LaunchRegistry {
  private readonly launches = new Map<string, LaunchRecord>();
  private readonly serviceKeys = new Map<string, Grant>();
  private readonly serviceKeyByResourceLink = new Map<string, string>();
  private nextUserNumber = 1;

  constructor(
    private readonly platforms: PlatformRegistry,
    private readonly contexts: ContextRegistry,
    private readonly gradebook: Gradebook,
    private readonly ltikTtlMs: number,
    private readonly now: () => number,
  ) {}

  launch(description: LaunchDescription = {}): EmulatedLaunch {
    const platform = this.platforms.ensure(description.platform);
    const contextId = description.context?.id ?? 'course-1';
    const context = this.contexts.ensure(platform.id, contextId, {
      ...(description.context?.title === undefined ? {} : { title: description.context.title }),
      ...(description.context?.label === undefined ? {} : { label: description.context.label }),
    });
    const resourceLinkId = description.resourceLink?.id ?? 'resource-link-1';
    const userId = description.user?.id ?? `user-${this.nextUserNumber++}`;
    const roles = rolesFor(description.user?.roles, description.role);
    const gradesAvailable = description.grades ?? true;
    const namesAndRolesAvailable = description.namesAndRoles ?? false;

    // A launch comes from an activity placed in the course: from now on the course has this resource link.
    this.contexts.addResourceLink(context, resourceLinkId);
    this.contexts.enroll(context, {
      userId,
      roles,
      ...(description.user?.name === undefined ? {} : { name: description.user.name }),
      ...(description.user?.email === undefined ? {} : { email: description.user.email }),
      gradable: description.gradable ?? gradableByDefault(roles),
    });

    const lineItemId = this.coupledLineItemId(description.lineItem, platform.id, contextId, resourceLinkId);
    // LTIAAS issues a service key when at least one of the services it serves with it is available.
    const serviceKey =
      gradesAvailable || namesAndRolesAvailable
        ? this.serviceKeyFor(platform.id, contextId, resourceLinkId, { gradesAvailable, namesAndRolesAvailable })
        : undefined;
    const ltik = newLtik(this.now());
    const urls = this.gradebook.urlsFor(context);

    const idToken: EmulatedIdToken = {
      user: { id: userId, roles, ...nameFields(description.user?.name), ...optional('email', description.user?.email) },
      platform: {
        id: platform.id,
        url: platform.url,
        clientId: platform.clientId,
        deploymentId: platform.deploymentId,
        name: platform.name,
        ...optional('productFamilyCode', platform.productFamilyCode),
      },
      launch: {
        type: 'LtiResourceLinkRequest',
        target: TOOL_LAUNCH_TARGET,
        context: {
          id: contextId,
          ...optional('label', context.label),
          ...optional('title', context.title),
          type: [COURSE_OFFERING],
        },
        resourceLink: { id: resourceLinkId, ...optional('title', description.resourceLink?.title) },
        presentation: { documentTarget: 'iframe', locale: 'en' },
        custom: {},
      },
      services: {
        assignmentAndGrades: { available: gradesAvailable, ...optional('lineItemId', lineItemId) },
        namesAndRoles: { available: namesAndRolesAvailable },
        deepLinking: { available: false },
        outcomes: { available: false },
        ...optional('serviceKey', serviceKey),
      },
      ltiVersion: '1.3.0',
    };
    const rawIdToken = buildRawIdToken({
      platform,
      nowMs: this.now(),
      user: idToken.user,
      context: idToken.launch.context,
      resourceLink: idToken.launch.resourceLink,
      targetLinkUri: TOOL_LAUNCH_TARGET,
      ...(gradesAvailable ? { grades: { lineItemsUrl: urls.lineItemsServiceUrl(), ...optional('lineItemId', lineItemId) } } : {}),
      ...(namesAndRolesAvailable ? { namesAndRoles: { contextMembershipsUrl: urls.membershipsPageBase() } } : {}),
    });

    this.launches.set(ltik, {
      expiresAtMs: this.now() + this.ltikTtlMs,
      revoked: description.expired === true,
      idToken,
      rawIdToken,
      grant: { kind: 'ltik', platformId: platform.id, contextId, resourceLinkId, gradesAvailable, namesAndRolesAvailable, ltik },
    });

    return {
      ltik,
      ...optional('serviceKey', serviceKey),
      userId,
      contextId,
      resourceLinkId,
      platformId: platform.id,
      ...optional('lineItemId', lineItemId),
      idToken: structuredClone(idToken),
    };
  }

  expire(ltik: string): void {
    const launch = this.launches.get(ltik);
    // An unknown ltik here is a mistake in the test, better said loudly than ignored.
    if (!launch) throw new Error('expireLtik: this ltik was not issued by this emulator');
    launch.revoked = true;
  }

  grantForLtik(ltik: string): Grant | undefined {
    const launch = this.launches.get(ltik);
    if (!launch || launch.revoked || this.now() >= launch.expiresAtMs) return undefined;
    return { ...launch.grant };
  }

  grantForServiceKey(serviceKey: string): Grant | undefined {
    const grant = this.serviceKeys.get(serviceKey);
    return grant ? { ...grant } : undefined;
  }

  idTokenFor(ltik: string): EmulatedIdToken | undefined {
    const launch = this.launches.get(ltik);
    return launch ? structuredClone(launch.idToken) : undefined;
  }

  /** The claims as the LMS sent them (GET /api/idtoken?raw=true). */
  rawIdTokenFor(ltik: string): EmulatedRawIdToken | undefined {
    const launch = this.launches.get(ltik);
    return launch ? structuredClone(launch.rawIdToken) : undefined;
  }

  /** Whether this token is an ltik or service key the emulator issued (for masking). */
  isSecret(token: string): boolean {
    return this.launches.has(token) || this.serviceKeys.has(token);
  }

  /**
   * One key per (platform, course, resource link), stable across launches, as LTIAAS does. A service
   * a launch of this link was granted stays granted to the key (the LMS gave it to the activity).
   */
  private serviceKeyFor(
    platformId: string,
    contextId: string,
    resourceLinkId: string,
    services: { gradesAvailable: boolean; namesAndRolesAvailable: boolean },
  ): string {
    const linkKey = JSON.stringify([platformId, contextId, resourceLinkId]);
    const existing = this.serviceKeyByResourceLink.get(linkKey);
    if (existing !== undefined) {
      const grant = this.serviceKeys.get(existing)!;
      grant.gradesAvailable ||= services.gradesAvailable;
      grant.namesAndRolesAvailable ||= services.namesAndRolesAvailable;
      return existing;
    }
    const serviceKey = randomBytes(32).toString('base64url');
    this.serviceKeyByResourceLink.set(linkKey, serviceKey);
    this.serviceKeys.set(serviceKey, { kind: 'serviceKey', platformId, contextId, resourceLinkId, ...services });
    return serviceKey;
  }

  private coupledLineItemId(
    spec: LaunchDescription['lineItem'],
    platformId: string,
    contextId: string,
    resourceLinkId: string,
  ): string | undefined {
    if (spec === undefined || spec === null) return undefined;
    const context = this.contexts.ensure(platformId, contextId);
    if (typeof spec === 'string') {
      const item = this.gradebook.find(spec);
      if (!item || item.context !== context) {
        throw new Error(`launch: line item ${JSON.stringify(spec)} does not exist in context ${JSON.stringify(contextId)}`);
      }
      return item.id;
    }
    const bound = this.gradebook.inContext(context).find((item) => item.fields.resourceLinkId === resourceLinkId);
    if (bound) return bound.id;
    let fields;
    try {
      fields = validateLineItemBody({ ...spec, resourceLinkId });
    } catch (error) {
      throw new TypeError(`launch: invalid lineItem: ${(error as Error).message}`);
    }
    return this.gradebook.create(context, fields).id;
  }
}

// Shaped like the JWT a real ltik is, so that clients which assume an opaque token without dots are caught.
function newLtik(nowMs: number): string {
  const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
  const payload = Buffer.from(
    JSON.stringify({ iat: Math.floor(nowMs / 1000), jti: randomBytes(16).toString('hex') }),
  ).toString('base64url');
  return `${header}.${payload}.${randomBytes(32).toString('base64url')}`;
}

/** `name`, with given and family names split at its first space (the emulator's convention, for ID tokens and rosters). */
export function nameFields(name: string | undefined): { name?: string; givenName?: string; familyName?: string } {
  if (name === undefined) return {};
  const spaceAt = name.indexOf(' ');
  if (spaceAt === -1) return { name, givenName: name };
  return { name, givenName: name.slice(0, spaceAt), familyName: name.slice(spaceAt + 1) };
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
