// IMS role URIs for the role shorthands, and which roles the LMS accepts scores for.

export const LEARNER_ROLE = 'http://purl.imsglobal.org/vocab/lis/v2/membership#Learner';
export const INSTRUCTOR_ROLE = 'http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor';

export type RoleShorthand = 'learner' | 'instructor';

export function rolesFor(roles: string[] | undefined, shorthand: RoleShorthand | undefined): string[] {
  if (roles !== undefined) return [...roles];
  return [shorthand === 'instructor' ? INSTRUCTOR_ROLE : LEARNER_ROLE];
}

// LMSes send full URIs, context-role URIs or short names; the part after '#' (or the whole string) names the role.
function hasRole(roles: string[], name: string): boolean {
  return roles.some((role) => role === name || role.endsWith(`#${name}`));
}

/** Moodle-like default: learners are graded, instructors are refused (also when they are learners too). */
export function gradableByDefault(roles: string[]): boolean {
  return hasRole(roles, 'Learner') && !hasRole(roles, 'Instructor');
}

// Context roles may be sent in full or by their short name ('Learner'), as LTI allows for this vocabulary.
const CONTEXT_ROLE_PREFIX = 'http://purl.imsglobal.org/vocab/lis/v2/membership#';

function fullContextRole(role: string): string {
  return role.includes(':') ? role : `${CONTEXT_ROLE_PREFIX}${role}`;
}

/** The NRPS `role` filter: `wanted` in full or short form, matched against roles in either form. */
export function hasContextRole(roles: string[], wanted: string): boolean {
  const full = fullContextRole(wanted);
  return roles.some((role) => fullContextRole(role) === full);
}
