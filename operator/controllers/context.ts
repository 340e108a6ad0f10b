// What every reconciler needs from the shell: the client, the informers'
// caches, an event recorder, a logger and a clock.
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { MetricProvider } from "../analysis/provider.ts";
import { APPLIED_HASH_ANNOTATION, FIELD_MANAGER } from "../api/contract.ts";
import type { NotificationSink } from "../notifications/notifier.ts";
import type { Routers } from "../rollout/routers/index.ts";
import type { KubeClient } from "../runtime/kube.ts";
import type { Store } from "../runtime/store.ts";
import type { KubeObject } from "../runtime/types.ts";

export interface EventSink {
  event(obj: KubeObject, type: "Normal" | "Warning", reason: string, message: string): Promise<void> | void;
}

export interface ReconcileDeps {
  kube: KubeClient;
  stores: {
    modelVersions: Store<KubeObject>;
    modelDeployments: Store<KubeObject>;
    deployments: Store<KubeObject>;
    services: Store<KubeObject>;
    hpas: Store<KubeObject>;
    driftMonitors: Store<KubeObject>;
  };
  events: EventSink;
  log: Logger;
  now: () => Date;
  registry: Registry;
  /** Where analyses are measured; undefined when no --prometheus-address was given. */
  prometheus: MetricProvider | undefined;
  /** Its address, for objects that query it themselves (KEDA triggers). */
  prometheusAddress: string | undefined;
  routers: Routers;
  /** Image of the modelops-proxy sidecar injected into inference pods (default: modelops-proxy:<version>). */
  proxyImage?: string | undefined;
  /** Image of the artifact fetcher init container: the operator's own (default: modelops-operator:<version>). */
  fetcherImage?: string | undefined;
  /** MLflow tracking server of models:/ artifacts that name none (--mlflow-tracking-uri). */
  mlflowTrackingUri?: string | undefined;
  /** Where status transitions worth telling people about go (--notifications-config); undefined: nowhere. */
  notifications?: NotificationSink | undefined;
}

/** How the operator writes: its field manager, and the hash that catches fields desired stopped setting. */
export const APPLY_AS = { fieldManager: FIELD_MANAGER, hashAnnotation: APPLIED_HASH_ANNOTATION } as const;

/**
 * The API's zod types and client-node's model types have no index signature
 * (and the latter type timestamps as Date where the JSON has strings); the
 * generic client wants one.
 */
export function asKubeObject(obj: object): KubeObject {
  return obj as KubeObject;
}
