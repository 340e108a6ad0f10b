// Output formats and flag values of the plugin, pure so unit tests pin them:
// `-o json|yaml` print objects as the apiserver returns them (for jq, yq and
// scripts), `-o wide` adds columns to `get`, and durations read as kubectl's
// (`90s`, `2m`, `1h`).
import yaml from "js-yaml";

export const OUTPUT_FORMATS = ["json", "yaml", "wide"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** JSON (two-space indent) or YAML of a value; undefined for text formats. */
export function serialize(value: unknown, format: OutputFormat | undefined): string | undefined {
  if (format === "json") return JSON.stringify(value, null, 2);
  if (format === "yaml") return yaml.dump(value, { noRefs: true, lineWidth: -1 }).trimEnd();
  return undefined;
}

/** Several objects as one document, the way `kubectl get -o json` prints a list. */
export function asList(items: unknown[]): { apiVersion: "v1"; kind: "List"; items: unknown[] } {
  return { apiVersion: "v1", kind: "List", items };
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `30s`, `2m`, `1h30m`, `500ms` or plain seconds (`45`, `0.5`) to milliseconds. */
export function parseDuration(text: string): number {
  const plain = Number(text);
  if (text.trim() !== "" && Number.isFinite(plain) && plain >= 0) return plain * 1000;
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text)
    throw new Error(`invalid duration ${JSON.stringify(text)}: use e.g. 30s, 2m, 1h30m or seconds`);
  return parts.reduce((ms, p) => ms + Number(p[1]) * (UNITS[p[2] as string] ?? 0), 0);
}
