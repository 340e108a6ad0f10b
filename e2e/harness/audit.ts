// Reading the apiserver's audit log: tests assert how many writes the operator
// made in a time window (e.g. zero writes while a steady state is reconciled).
import { readFileSync } from "node:fs";

export interface AuditEvent {
  verb: string;
  user: { username: string };
  objectRef?: {
    resource?: string;
    namespace?: string;
    name?: string;
    apiGroup?: string;
    subresource?: string;
  };
  requestURI: string;
  responseStatus?: { code?: number };
  requestReceivedTimestamp: string;
  stage: string;
}

export const writeVerbs = new Set(["create", "update", "patch", "delete", "deletecollection"]);

export interface AuditQuery {
  /** Defaults to the operator's user, `modelops-operator`. */
  username?: string;
  /** Inclusive bounds on requestReceivedTimestamp. */
  since?: Date;
  until?: Date;
  /** Only these verbs; defaults to every write verb. */
  verbs?: Set<string>;
}

/** The completed requests matching `query`, in log order. */
export function auditEvents(auditLogPath: string, query: AuditQuery = {}): AuditEvent[] {
  const username = query.username ?? "modelops-operator";
  const verbs = query.verbs ?? writeVerbs;
  const since = query.since?.getTime() ?? Number.NEGATIVE_INFINITY;
  const until = query.until?.getTime() ?? Number.POSITIVE_INFINITY;
  const events: AuditEvent[] = [];
  for (const line of readFileSync(auditLogPath, "utf8").split("\n")) {
    if (!line.includes(username)) continue; // cheap filter before parsing
    const e = JSON.parse(line) as AuditEvent;
    if (e.stage !== "ResponseComplete" || e.user.username !== username || !verbs.has(e.verb)) continue;
    const t = Date.parse(e.requestReceivedTimestamp);
    if (t >= since && t <= until) events.push(e);
  }
  return events;
}
