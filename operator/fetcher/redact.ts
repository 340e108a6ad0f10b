// Nothing secret reaches a log line or a termination message: URLs lose their
// user info and query string (a presigned URL's query IS the credential), and
// known secret values from the environment are masked wherever they appear.

/** A URL safe to print: no user:password@, no ?query (replaced by "?…"), no #fragment. */
export function redactUrl(url: string | URL): string {
  let u: URL;
  try {
    u = new URL(String(url));
  } catch {
    return redactQueries(String(url));
  }
  const query = u.search ? "?…" : "";
  const auth = u.username || u.password ? "…@" : "";
  // models:/name/1 has no host, and no "//" to add.
  if (!u.host && !auth) return `${u.protocol}${u.pathname}${query}`;
  return `${u.protocol}//${auth}${u.host}${u.pathname}${query}`;
}

/** Replaces the query of every http(s) URL inside free text (e.g. an error message); an already redacted "?…" stays. */
export function redactQueries(text: string): string {
  return text.replace(/(https?:\/\/)([^\s/?#@]*@)?([^\s?#]*)\?(?!…)[^\s"']*/g, (_m, scheme, auth, rest) => {
    return `${scheme}${auth ? "…@" : ""}${rest}?…`;
  });
}

/** Environment variables whose values must never be printed. */
export const SECRET_ENV = [
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "AWS_ACCESS_KEY_ID",
  "MLFLOW_TRACKING_TOKEN",
  "MLFLOW_TRACKING_PASSWORD",
];

/** A function masking the given secret values (and URL queries) in any text. */
export function makeRedactor(secrets: Array<string | undefined>): (text: string) => string {
  // Short values would mask ordinary words; real keys are long.
  const values = secrets.filter((s): s is string => typeof s === "string" && s.length >= 6);
  values.sort((a, b) => b.length - a.length);
  return (text) => {
    let out = redactQueries(text);
    for (const v of values) out = out.split(v).join("***");
    // A SigV4 Authorization header or signature that slipped into a message.
    out = out
      .replace(/Signature=[0-9a-f]{64}/g, "Signature=***")
      .replace(/Credential=[^,\s]+/g, "Credential=***");
    return out;
  };
}

export function envRedactor(env: NodeJS.ProcessEnv): (text: string) => string {
  return makeRedactor(SECRET_ENV.map((k) => env[k]));
}
