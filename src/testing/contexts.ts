// Courses (LTI contexts) per platform: their resource links, and the roster of users the LMS would accept scores for.

export interface RosterMember {
  userId: string;
  roles: string[];
  name?: string;
  email?: string;
  /** Whether the LMS accepts scores for this user (Moodle refuses instructors, test students, ...). */
  gradable: boolean;
}

export interface CourseContext {
  platformId: string;
  contextId: string;
  /** The LMS's own number for the course, used in its URLs (Moodle course ids start at 2). */
  number: number;
  title?: string;
  label?: string;
  roster: Map<string, RosterMember>;
  /** The resource links (activities) placed in this course: a line item may be bound only to one of these. */
  resourceLinks: Set<string>;
}

export class ContextRegistry {
  private readonly contexts = new Map<string, CourseContext>();
  private nextNumber = 2;

  ensure(platformId: string, contextId: string, details: { title?: string; label?: string } = {}): CourseContext {
    const key = contextKey(platformId, contextId);
    let context = this.contexts.get(key);
    if (!context) {
      context = { platformId, contextId, number: this.nextNumber++, roster: new Map(), resourceLinks: new Set() };
      this.contexts.set(key, context);
    }
    // A later launch may carry the title/label an earlier seed did not.
    if (details.title !== undefined) context.title = details.title;
    if (details.label !== undefined) context.label = details.label;
    return context;
  }

  get(platformId: string, contextId: string): CourseContext | undefined {
    return this.contexts.get(contextKey(platformId, contextId));
  }

  all(): CourseContext[] {
    return [...this.contexts.values()];
  }

  /** Records a resource link as placed in this course (a launch from it, or a column a teacher bound to it). */
  addResourceLink(context: CourseContext, resourceLinkId: string): void {
    context.resourceLinks.add(resourceLinkId);
  }

  /** Adds or updates a member: a later launch reflects the user's current roles in the LMS. */
  enroll(context: CourseContext, member: RosterMember): void {
    context.roster.set(member.userId, { ...member, roles: [...member.roles] });
  }
}

// JSON keeps the two ids apart whatever characters they contain.
function contextKey(platformId: string, contextId: string): string {
  return JSON.stringify([platformId, contextId]);
}
