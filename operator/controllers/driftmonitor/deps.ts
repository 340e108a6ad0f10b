// What the DriftMonitor reconciler needs beyond every reconciler's deps: the
// fence for the requests it sends where a DriftMonitor's author points it
// (webhook, spec.prometheus.address). Absent, the fence allows nothing extra.
import type { OutboundPolicy } from "../../runtime/outbound.ts";
import type { ReconcileDeps } from "../context.ts";

export type DriftDeps = ReconcileDeps & { outbound?: OutboundPolicy | undefined };
