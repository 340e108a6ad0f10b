// Header and cohort routing: a canary step that sends every request carrying
// a header (or cookie) to the new revision, whatever the weight, for A/B
// tests and dogfooding. Only routers that see requests can do it (gatewayAPI,
// istio); the replicas router splits by pod counts, hence the spec-level rule.
import { z } from "zod";
import { celExactlyOne, exactlyOne } from "./analysis.ts";
import { type CelRule, withCel } from "./common.ts";

/** An HTTP token (RFC 9110), lowercase: header names are case-insensitive and Istio wants them lowercase. */
const HEADER_NAME = /^[a-z0-9!#$%&'*+\-.^_`|~]+$/;
/** A cookie name is an HTTP token (RFC 6265). */
const COOKIE_NAME = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;
/** Characters RFC 6265 keeps out of a cookie value. */
const COOKIE_VALUE_FORBIDDEN = [" ", '"', ",", ";", "\\"];

/**
 * zod's approximation of the apiserver's RE2 check: JavaScript compiles the
 * pattern once RE2's own syntax (leading flags like (?i), (?P<name>) groups)
 * is rewritten, so a broken pattern is refused here too and a valid RE2 one
 * is not (JavaScript-only syntax such as lookahead is left to the apiserver).
 */
function compilesAsRe2(pattern: string): boolean {
  const js = pattern.replace(/^\(\?[imsU]+\)/, "").replaceAll("(?P<", "(?<");
  try {
    new RegExp(js);
    return true;
  } catch {
    return false;
  }
}

const NAME_FIELDS = ["header", "cookie"];
const VALUE_FIELDS = ["value", "regex"];
const COOKIE_NEEDS_VALUE = "a cookie is matched by its exact value: set value, not regex";
const BAD_REGEX = "regex must be a valid RE2 regular expression";
const BAD_COOKIE_VALUE =
  "a cookie value cannot contain spaces, double quotes, commas, semicolons or backslashes";

export const headerRouteMatchSchema = withCel(
  z
    .object({
      header: z
        .string()
        .min(1)
        .max(256)
        .regex(HEADER_NAME, "a header name is lowercase letters, digits and !#$%&'*+-.^_`|~")
        .optional()
        .describe('Request header to match, lowercase, e.g. "x-cohort".'),
      cookie: z
        .string()
        .min(1)
        .max(256)
        .regex(COOKIE_NAME, "a cookie name is letters, digits and !#$%&'*+-.^_`|~")
        .optional()
        .describe('Cookie to match (in the Cookie header), e.g. "cohort".'),
      value: z
        .string()
        .min(1)
        .max(1024)
        .optional()
        .describe("The exact value the header or cookie must have."),
      regex: z
        .string()
        .min(1)
        .max(1024)
        .optional()
        .describe(
          "Headers only: an RE2 regular expression the whole header value must match, e.g. " +
            '"beta|internal". Gateway API leaves the dialect to the implementation.',
        ),
    })
    .refine((m) => exactlyOne(m, NAME_FIELDS), { message: "set exactly one of header or cookie" })
    .refine((m) => exactlyOne(m, VALUE_FIELDS), { message: "set exactly one of value or regex" })
    .refine((m) => m.cookie === undefined || m.regex === undefined, { message: COOKIE_NEEDS_VALUE })
    .refine((m) => m.regex === undefined || compilesAsRe2(m.regex), { message: BAD_REGEX })
    .refine((m) => m.cookie === undefined || !COOKIE_VALUE_FORBIDDEN.some((c) => m.value?.includes(c)), {
      message: BAD_COOKIE_VALUE,
    })
    .describe("One condition on a request: a header or a cookie with a value."),
  [
    celExactlyOne(NAME_FIELDS, "a setHeaderRoute match", "one condition per list item"),
    celExactlyOne(VALUE_FIELDS, "a setHeaderRoute match", "value for an exact match, regex for a pattern"),
    { rule: "!has(self.cookie) || !has(self.regex)", message: COOKIE_NEEDS_VALUE },
    {
      rule: `!has(self.cookie) || !has(self.value) || ![${COOKIE_VALUE_FORBIDDEN.map(celString).join(", ")}].exists(c, self.value.contains(c))`,
      message: BAD_COOKIE_VALUE,
    },
    // Compiles the pattern: an invalid one fails evaluation, and the apiserver's error names the syntax error.
    {
      rule: "!has(self.regex) || ''.matches(self.regex) || !''.matches(self.regex)",
      message: BAD_REGEX,
    },
  ],
);
export type HeaderRouteMatch = z.infer<typeof headerRouteMatchSchema>;

const ONE_COOKIE =
  "match at most one cookie per setHeaderRoute: the router matches cookies inside the one Cookie header";
const DUPLICATE_HEADER =
  "each header appears once in match (conditions are ANDed), and a cookie match excludes a header named cookie";

export const setHeaderRouteSchema = withCel(
  z
    .object({
      match: z
        .array(headerRouteMatchSchema)
        .max(8)
        .describe(
          "Conditions a request must all meet (AND) to go to the new revision. [] removes the route.",
        ),
    })
    .refine((s) => s.match.filter((m) => m.cookie !== undefined).length <= 1, { message: ONE_COOKIE })
    .refine((s) => !hasDuplicateHeader(s.match), { message: DUPLICATE_HEADER })
    .describe(
      "Send every request that meets all conditions to the new revision, from this step until the rollout " +
        "ends (or a later setHeaderRoute replaces it); other requests follow the weight. Needs the gatewayAPI " +
        "or istio router.",
    ),
  [
    { rule: "self.match.filter(m, has(m.cookie)).size() <= 1", message: ONE_COOKIE },
    {
      rule:
        "self.match.all(m, !has(m.header) || self.match.filter(n, (has(n.header) && n.header == m.header) || " +
        "(has(n.cookie) && m.header == 'cookie')).size() == 1)",
      message: DUPLICATE_HEADER,
    },
  ],
);
export type SetHeaderRoute = z.infer<typeof setHeaderRouteSchema>;

/** "header x-cohort: beta and cookie cohort=beta", for status messages. */
export function describeHeaderRoute(match: HeaderRouteMatch[]): string {
  const one = (m: HeaderRouteMatch) =>
    m.cookie !== undefined
      ? `cookie ${m.cookie}=${m.value}`
      : `header ${m.header}${m.regex !== undefined ? ` matching /${m.regex}/` : `: ${m.value}`}`;
  return match.map(one).join(" and ");
}

function hasDuplicateHeader(match: HeaderRouteMatch[]): boolean {
  const names = match.flatMap((m) => (m.header ? [m.header] : m.cookie ? ["cookie"] : []));
  return new Set(names).size !== names.length;
}

/** A one-character CEL string literal; the apiserver's CEL takes a backslash only in a raw string. */
function celString(c: string): string {
  return c === "\\" ? "r'\\'" : `'${c}'`;
}

export const HEADER_ROUTE_NEEDS_ROUTER =
  "a setHeaderRoute step needs a router that sees requests: the replicas router (the default when " +
  "trafficRouting is omitted) splits traffic by pod counts and cannot match headers or cookies; set " +
  "trafficRouting.gatewayAPI.httpRoute or trafficRouting.istio.virtualService, or remove the setHeaderRoute steps";

type SpecRouting = {
  strategy?: { canary?: { steps: { setHeaderRoute?: unknown }[] } | undefined } | undefined;
  trafficRouting?: { gatewayAPI?: unknown; istio?: unknown } | undefined;
};

/** zod mirror of HEADER_ROUTE_ROUTER_RULE, for the spec. */
export function headerRouteHasRouter(spec: SpecRouting): boolean {
  const wanted = spec.strategy?.canary?.steps.some((s) => s.setHeaderRoute !== undefined) ?? false;
  return !wanted || spec.trafficRouting?.gatewayAPI !== undefined || spec.trafficRouting?.istio !== undefined;
}

/** On the spec: strategy and trafficRouting are siblings there. */
export const HEADER_ROUTE_ROUTER_RULE: CelRule = {
  rule:
    "!(has(self.strategy) && has(self.strategy.canary) && self.strategy.canary.steps.exists(s, " +
    "has(s.setHeaderRoute))) || (has(self.trafficRouting) && (has(self.trafficRouting.gatewayAPI) || " +
    "has(self.trafficRouting.istio)))",
  message: HEADER_ROUTE_NEEDS_ROUTER,
  fieldPath: ".trafficRouting",
};
