// A setHeaderRoute match as the routes write it. Neither Gateway API nor
// Istio matches cookies as such, so a cookie becomes a regular expression
// over the Cookie header that both dialects read alike (RE2; anchored, so it
// means the same whether the implementation matches the whole value or a part).
import type { HeaderRouteMatch } from "../../api/index.ts";

export const COOKIE_HEADER = "cookie";

const PREFIX = "^(.*;\\s*)?";
const SUFFIX = "(\\s*;.*)?$";

function escapeRe2(s: string): string {
  return s.replace(/[\\^$.|?*+()[\]{}]/g, "\\$&");
}

/** The Cookie header value contains `name=value` as one of its cookies. */
export function cookieRegex(name: string, value: string): string {
  return `${PREFIX}${escapeRe2(name)}=${escapeRe2(value)}${SUFFIX}`;
}

/** The cookie a cookieRegex was built from; undefined for any other expression. */
export function parseCookieRegex(regex: string): { cookie: string; value: string } | undefined {
  if (!regex.startsWith(PREFIX) || !regex.endsWith(SUFFIX)) return undefined;
  const body = regex.slice(PREFIX.length, regex.length - SUFFIX.length);
  // A cookie name is a token, which has no "=", so the first one separates name and value.
  const at = body.indexOf("=");
  if (at < 0) return undefined;
  const literal = (s: string) => s.replace(/\\(.)/g, "$1");
  return { cookie: literal(body.slice(0, at)), value: literal(body.slice(at + 1)) };
}

/** The header a match reads (lowercase) and how: exactly, or by a regular expression. */
export function headerCondition(m: HeaderRouteMatch): { name: string; exact?: string; regex?: string } {
  if (m.cookie !== undefined) return { name: COOKIE_HEADER, regex: cookieRegex(m.cookie, m.value ?? "") };
  const name = (m.header ?? "").toLowerCase();
  return m.regex !== undefined ? { name, regex: m.regex } : { name, exact: m.value ?? "" };
}

/** The match a route's header condition stands for (inverse of headerCondition). */
export function matchOfCondition(name: string, cond: { exact?: string; regex?: string }): HeaderRouteMatch {
  if (cond.regex !== undefined) {
    const cookie = name.toLowerCase() === COOKIE_HEADER ? parseCookieRegex(cond.regex) : undefined;
    return cookie ?? { header: name, regex: cond.regex };
  }
  return { header: name, value: cond.exact ?? "" };
}
