// The launch's ID token as the LMS sent it: the LTI 1.3 claims that GET /api/idtoken?raw=true returns.
import { randomBytes } from 'node:crypto';
import type { EmulatedPlatform } from './platforms';

/** The raw claims; LTIAAS passes every claim the LMS sent, so the type stays open. */
export interface EmulatedRawIdToken {
  iss: string;
  sub: string;
  aud: string;
  azp: string;
  exp: number;
  iat: number;
  nonce: string;
  /** Added by LTIAAS (not an LMS claim): which LTI version the launch used. */
  ltiVersion: '1.3.0';
  [claim: string]: unknown;
}

export interface RawIdTokenInput {
  platform: EmulatedPlatform;
  nowMs: number;
  user: { id: string; roles: string[]; name?: string; givenName?: string; familyName?: string; email?: string };
  context: { id: string; label?: string; title?: string; type: string[] };
  resourceLink: { id: string; title?: string };
  targetLinkUri: string;
  /** The AGS endpoint claim; absent when the LMS did not grant grades. */
  grades?: { lineItemsUrl: string; lineItemId?: string };
  /** The NRPS claim; absent when the LMS did not grant the roster. */
  namesAndRoles?: { contextMembershipsUrl: string };
}

const LTI = 'https://purl.imsglobal.org/spec/lti/claim';
const AGS_ENDPOINT = 'https://purl.imsglobal.org/spec/lti-ags/claim/endpoint';
const NRPS_SERVICE = 'https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice';
// The scopes an LMS grants a tool that may create columns, read results and post scores.
const AGS_SCOPES = [
  'https://purl.imsglobal.org/spec/lti-ags/scope/lineitem',
  'https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly',
  'https://purl.imsglobal.org/spec/lti-ags/scope/score',
];
// Moodle signs launch ID tokens for one minute: the claims are a record of the launch, not a credential.
const ID_TOKEN_LIFETIME_S = 60;

export function buildRawIdToken(input: RawIdTokenInput): EmulatedRawIdToken {
  const { platform, user, context, resourceLink } = input;
  const iat = Math.floor(input.nowMs / 1000);
  const claims: EmulatedRawIdToken = {
    iss: platform.url,
    sub: user.id,
    aud: platform.clientId,
    azp: platform.clientId,
    exp: iat + ID_TOKEN_LIFETIME_S,
    iat,
    nonce: randomBytes(16).toString('hex'),
    ...optional('name', user.name),
    ...optional('given_name', user.givenName),
    ...optional('family_name', user.familyName),
    ...optional('email', user.email),
    [`${LTI}/message_type`]: 'LtiResourceLinkRequest',
    [`${LTI}/version`]: '1.3.0',
    [`${LTI}/deployment_id`]: platform.deploymentId,
    [`${LTI}/target_link_uri`]: input.targetLinkUri,
    [`${LTI}/roles`]: [...user.roles],
    [`${LTI}/context`]: { id: context.id, ...optional('label', context.label), ...optional('title', context.title), type: [...context.type] },
    [`${LTI}/resource_link`]: { id: resourceLink.id, ...optional('title', resourceLink.title) },
    [`${LTI}/tool_platform`]: {
      guid: new URL(platform.url).host,
      name: platform.name,
      ...optional('product_family_code', platform.productFamilyCode),
    },
    [`${LTI}/launch_presentation`]: { document_target: 'iframe', locale: 'en' },
    [`${LTI}/custom`]: {},
    ltiVersion: '1.3.0',
  };
  if (input.grades) {
    claims[AGS_ENDPOINT] = {
      scope: [...AGS_SCOPES],
      lineitems: input.grades.lineItemsUrl,
      ...optional('lineitem', input.grades.lineItemId),
    };
  }
  if (input.namesAndRoles) {
    claims[NRPS_SERVICE] = { context_memberships_url: input.namesAndRoles.contextMembershipsUrl, service_versions: ['2.0'] };
  }
  return claims;
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
