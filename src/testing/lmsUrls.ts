// The LMS URLs the emulator hands out, shaped like Moodle's so that ids carry a path and a query string.
import type { CourseContext } from './contexts';

/**
 * Moodle-style absolute URLs. The `?type_id=1` query string in every line item id is deliberate:
 * a client that does not encode the id exactly once with encodeURIComponent gets a 404.
 */
export class LmsUrls {
  constructor(private readonly platformUrl: string, private readonly context: CourseContext) {}

  private get servicesBase(): string {
    return `${this.platformUrl}/mod/lti/services.php/${this.context.number}`;
  }

  /** Where the pages of this course's line item list live (origin + path, no query). */
  lineItemsPageBase(): string {
    return `${this.servicesBase}/lineitems`;
  }

  /** The AGS claim's `lineitems`: where the LMS lists this course's line items. */
  lineItemsServiceUrl(): string {
    return `${this.lineItemsPageBase()}?type_id=1`;
  }

  /** Where the pages of this course's roster live (origin + path, no query), as Moodle's NRPS URL. */
  membershipsPageBase(): string {
    return `${this.platformUrl}/mod/lti/services.php/CourseSection/${this.context.number}/bindings/1/memberships`;
  }

  lineItemId(lineItemNumber: number): string {
    return `${this.servicesBase}/lineitems/${lineItemNumber}/lineitem?type_id=1`;
  }

  /** Where the pages of one line item's results live (origin + path, no query). */
  resultsPageBase(lineItemNumber: number): string {
    return `${this.servicesBase}/lineitems/${lineItemNumber}/lineitem/results`;
  }

  resultId(lineItemNumber: number, userId: string): string {
    return `${this.resultsPageBase(lineItemNumber)}?type_id=1&user_id=${encodeURIComponent(userId)}`;
  }

  scoresUrl(lineItemNumber: number): string {
    return `${this.servicesBase}/lineitems/${lineItemNumber}/lineitem/scores?type_id=1`;
  }

  /** A page URL: `base` plus type_id, page, limit and the filters, in a stable order. */
  static page(base: string, page: number, limit: number, filters: Record<string, string | undefined>): string {
    const params = new URLSearchParams({ type_id: '1', page: String(page), limit: String(limit) });
    for (const [name, value] of Object.entries(filters)) {
      if (value !== undefined) params.set(name, value);
    }
    return `${base}?${params.toString()}`;
  }
}
