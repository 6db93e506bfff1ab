// The two ways a grades call authenticates to LTIAAS, and the Authorization header of each.

/** An ltik (one launch, 24 h) or a service key (one activity, no expiry). */
export type Credential = { kind: 'ltik'; ltik: string } | { kind: 'serviceKey'; serviceKey: string };

export const ltikCredential = (ltik: string): Credential => ({ kind: 'ltik', ltik });
export const serviceKeyCredential = (serviceKey: string): Credential => ({ kind: 'serviceKey', serviceKey });

/** ltiaas-api.md: V2 only (`LTIK-AUTH-V2 <API_KEY>:<LTIK>`), and `SERVICE-AUTH-V1 <API_KEY>:<SERVICE_KEY>`. */
export function authorizationHeader(apiKey: string, credential: Credential): string {
  return credential.kind === 'ltik'
    ? `LTIK-AUTH-V2 ${apiKey}:${credential.ltik}`
    : `SERVICE-AUTH-V1 ${apiKey}:${credential.serviceKey}`;
}

/** The secret a credential carries, so messages from upstream can be scrubbed of it. */
export function secretOf(credential: Credential): string {
  return credential.kind === 'ltik' ? credential.ltik : credential.serviceKey;
}
