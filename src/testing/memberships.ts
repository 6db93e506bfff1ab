// GET /api/memberships: the course roster as the Names and Roles Provisioning service pages it.
import type { CourseContext, RosterMember } from './contexts';
import { resourceLinkNotFoundError } from './errors';
import { nameFields } from './launches';
import type { LmsUrls } from './lmsUrls';
import { paginate, parsePageUrl, parsePositiveInteger, type PageLinks, type PageRequest } from './paging';
import { hasContextRole } from './roles';

/** One member as LTIAAS returns it. */
export interface MembershipJson {
  userId: string;
  roles: string[];
  status: 'Active';
  name?: string;
  givenName?: string;
  familyName?: string;
  email?: string;
}

export interface MembershipContainerJson extends PageLinks {
  /** The LMS URL of the page served. */
  id: string;
  context: { id: string; label?: string; title?: string };
  members: MembershipJson[];
}

// The LMS's own query parameter names, as they appear in its page URLs.
const MEMBERSHIP_FILTERS = ['role', 'rlid'] as const;

/**
 * Lists the roster: `role` (full IMS URI or a context role's short name) and `resourceLinkId`
 * filter it, `limit` pages it, `url` serves a page handed out earlier (all else then ignored).
 * Every member of the emulated course can reach every one of its activities, so `resourceLinkId`
 * only has to name one of them.
 */
export function listMemberships(
  context: CourseContext,
  query: URLSearchParams,
  urls: LmsUrls,
  pageSize: number,
): MembershipContainerJson {
  const base = urls.membershipsPageBase();
  const request = pageRequest(query, base, pageSize);
  const { role, rlid: resourceLinkId } = request.filters;
  if (resourceLinkId !== undefined && !context.resourceLinks.has(resourceLinkId)) {
    throw resourceLinkNotFoundError(base);
  }
  const members = [...context.roster.values()].filter((member) => role === undefined || hasContextRole(member.roles, role));
  const pageUrl = (page: number): string => membershipsPageUrl(base, page, request);
  const page = paginate(members.map(toMembershipJson), request, pageUrl);
  return {
    id: pageUrl(request.page),
    context: {
      id: context.contextId,
      ...(context.label === undefined ? {} : { label: context.label }),
      ...(context.title === undefined ? {} : { title: context.title }),
    },
    members: page.items,
    ...page.links,
  };
}

function pageRequest(query: URLSearchParams, base: string, pageSize: number): PageRequest {
  const url = query.get('url');
  if (url !== null) return parsePageUrl(url, base, MEMBERSHIP_FILTERS, pageSize);
  const limit = parsePositiveInteger(query.get('limit'), 'limit');
  // An empty filter (?role=) filters nothing, as an unset form field would.
  const filter = (name: string): string | undefined => query.get(name) || undefined;
  return { page: 1, limit: Math.min(limit ?? pageSize, pageSize), filters: { role: filter('role'), rlid: filter('resourceLinkId') } };
}

function membershipsPageUrl(base: string, page: number, request: PageRequest): string {
  const params = new URLSearchParams({ page: String(page), limit: String(request.limit) });
  for (const name of MEMBERSHIP_FILTERS) {
    const value = request.filters[name];
    if (value !== undefined) params.set(name, value);
  }
  return `${base}?${params.toString()}`;
}

function toMembershipJson(member: RosterMember): MembershipJson {
  return {
    userId: member.userId,
    roles: [...member.roles],
    status: 'Active',
    ...nameFields(member.name),
    ...(member.email === undefined ? {} : { email: member.email }),
  };
}
