// Parsing the Authorization header into the LTIAAS schemes, and turning it into what the caller may touch.
import { LtiaasApiError } from './errors';

export type AuthScheme = 'LTIK-AUTH-V2' | 'LTIK-AUTH-V1' | 'SERVICE-AUTH-V1' | 'Bearer' | 'none' | 'other';

export interface ParsedAuthorization {
  scheme: AuthScheme;
  apiKey?: string;
  /** The ltik (LTIK-AUTH-*) or service key (SERVICE-AUTH-V1); absent when the header is malformed. */
  token?: string;
}

/** What a valid credential grants: one course of one platform, seen from one resource link. */
export interface Grant {
  kind: 'ltik' | 'serviceKey';
  platformId: string;
  contextId: string;
  resourceLinkId: string;
  gradesAvailable: boolean;
  /** Whether the Names and Roles Provisioning service (the roster) is available. */
  namesAndRolesAvailable: boolean;
  /** The launch behind an ltik (to answer /api/idtoken); absent for service keys. */
  ltik?: string;
}

export interface CredentialStore {
  readonly apiKey: string;
  grantForLtik(ltik: string): Grant | undefined;
  grantForServiceKey(serviceKey: string): Grant | undefined;
}

// Scheme names are matched exactly as documented: a lenient emulator would let a client bug through to production.
const V1_LTIK = /^LTIK-AUTH-V1 Token=([^,\s]+),\s*Additional=Bearer (\S+)$/;

export function parseAuthorization(header: string | undefined): ParsedAuthorization {
  if (header === undefined || header.trim() === '') return { scheme: 'none' };
  const spaceAt = header.indexOf(' ');
  const schemeWord = spaceAt === -1 ? header : header.slice(0, spaceAt);
  const rest = spaceAt === -1 ? '' : header.slice(spaceAt + 1);
  switch (schemeWord) {
    case 'LTIK-AUTH-V2':
      return { scheme: 'LTIK-AUTH-V2', ...splitKeyPair(rest) };
    case 'SERVICE-AUTH-V1':
      return { scheme: 'SERVICE-AUTH-V1', ...splitKeyPair(rest) };
    case 'LTIK-AUTH-V1': {
      const match = V1_LTIK.exec(header);
      return match ? { scheme: 'LTIK-AUTH-V1', token: match[1], apiKey: match[2] } : { scheme: 'LTIK-AUTH-V1' };
    }
    case 'Bearer':
      return rest === '' ? { scheme: 'Bearer' } : { scheme: 'Bearer', apiKey: rest };
    default:
      return { scheme: 'other' };
  }
}

// "<API_KEY>:<TOKEN>": API keys contain no ':', so the first ':' separates them whatever the token holds.
function splitKeyPair(credential: string): { apiKey?: string; token?: string } {
  const colonAt = credential.indexOf(':');
  if (colonAt <= 0 || colonAt === credential.length - 1) return {};
  return { apiKey: credential.slice(0, colonAt), token: credential.slice(colonAt + 1) };
}

export const LTIK_SCHEMES: readonly AuthScheme[] = ['LTIK-AUTH-V2', 'LTIK-AUTH-V1'];
export const LTIK_OR_SERVICE_SCHEMES: readonly AuthScheme[] = ['LTIK-AUTH-V2', 'LTIK-AUTH-V1', 'SERVICE-AUTH-V1'];

/** Checks the credential for an endpoint that accepts `accepted`; every refusal is a 401 in the documented shape. */
export function authenticate(auth: ParsedAuthorization, accepted: readonly AuthScheme[], store: CredentialStore): Grant {
  if (auth.scheme === 'none') {
    throw new LtiaasApiError(401, 'MISSING_AUTHORIZATION_HEADER', 'Missing Authorization header.');
  }
  if (!accepted.includes(auth.scheme)) {
    throw new LtiaasApiError(
      401,
      'UNSUPPORTED_AUTHORIZATION_SCHEME',
      `This endpoint accepts only these Authorization schemes: ${accepted.join(', ')}.`,
    );
  }
  const isServiceKey = auth.scheme === 'SERVICE-AUTH-V1';
  const invalidHeaderCode = isServiceKey ? 'INVALID_SERVICE_AUTH_AUTHORIZATION_HEADER' : 'INVALID_LTIK_AUTH_AUTHORIZATION_HEADER';
  if (auth.apiKey === undefined || auth.token === undefined) {
    throw new LtiaasApiError(401, invalidHeaderCode, `Malformed ${auth.scheme} Authorization header.`);
  }
  if (auth.apiKey !== store.apiKey) {
    throw new LtiaasApiError(401, 'INVALID_API_KEY', 'Invalid API key.');
  }
  const grant = isServiceKey ? store.grantForServiceKey(auth.token) : store.grantForLtik(auth.token);
  if (!grant) {
    throw new LtiaasApiError(401, invalidHeaderCode, isServiceKey ? 'Invalid service key.' : 'Invalid or expired ltik.');
  }
  return grant;
}
