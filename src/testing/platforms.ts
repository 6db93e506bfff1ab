// The LMS platforms (LTIAAS registrations) the emulator knows, each defined by its first use.

export interface EmulatedPlatform {
  id: string;
  /** Issuer URL, also the origin of every line item id and page URL of this platform. */
  url: string;
  name: string;
  clientId: string;
  deploymentId: string;
  productFamilyCode?: string;
}

export interface PlatformDescription {
  id?: string;
  url?: string;
  name?: string;
  productFamilyCode?: string;
}

export const DEFAULT_PLATFORM_ID = 'platform-1';

export function normalizePlatformUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`platform url must be an absolute http(s) URL, got ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new TypeError(`platform url must be an absolute http(s) URL, got ${JSON.stringify(url)}`);
  }
  return `${parsed.origin}${parsed.pathname}`.replace(/\/+$/, '');
}

export class PlatformRegistry {
  private readonly platforms = new Map<string, EmulatedPlatform>();

  constructor(private readonly defaultUrl: string) {
    this.ensure({ id: DEFAULT_PLATFORM_ID, name: 'Emulated Moodle', productFamilyCode: 'moodle' });
  }

  /** Finds or registers a platform; a later description that contradicts the first one is a test bug, so it throws. */
  ensure(description: PlatformDescription = {}): EmulatedPlatform {
    const id = description.id ?? DEFAULT_PLATFORM_ID;
    const url = description.url === undefined ? undefined : normalizePlatformUrl(description.url);
    const existing = this.platforms.get(id);
    if (existing) {
      const conflicts = (
        [
          ['url', url],
          ['name', description.name],
          ['productFamilyCode', description.productFamilyCode],
        ] as const
      ).filter(([field, value]) => value !== undefined && existing[field] !== value);
      if (conflicts.length > 0) {
        throw new Error(
          `platform ${JSON.stringify(id)} was already defined with a different ${conflicts.map(([f]) => f).join(', ')}`,
        );
      }
      return existing;
    }
    const platform: EmulatedPlatform = {
      id,
      url: url ?? this.defaultUrl,
      name: description.name ?? `Emulated LMS ${id}`,
      clientId: `client-${id}`,
      deploymentId: '1',
      ...(description.productFamilyCode === undefined ? {} : { productFamilyCode: description.productFamilyCode }),
    };
    this.platforms.set(id, platform);
    return platform;
  }

  get(id: string): EmulatedPlatform | undefined {
    return this.platforms.get(id);
  }
}
