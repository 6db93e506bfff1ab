// The path-matching rule shared by scripted faults and request counting.

/**
 * A string matches the raw (still percent-encoded) pathname exactly, or, when it ends with '*',
 * any pathname that starts with what comes before the '*'. A RegExp is tested on the raw pathname.
 * Exact-by-default keeps '/api/lineitems' from silently also matching every score POST.
 */
export type PathPattern = string | RegExp;

export function pathMatches(pattern: PathPattern, rawPath: string): boolean {
  if (pattern instanceof RegExp) {
    // A /g or /y RegExp keeps lastIndex between calls, which would make matching depend on history.
    pattern.lastIndex = 0;
    return pattern.test(rawPath);
  }
  if (pattern.endsWith('*')) return rawPath.startsWith(pattern.slice(0, -1));
  return rawPath === pattern;
}
