// The artifact fetcher in an inference pod: an init container of the
// operator's image that downloads a remote artifact (operator/fetcher/) into
// an emptyDir the model server then mounts read-only at the same path a
// mounted artifact has. Credentials reach only this container, through the
// Secret the ModelVersion names, and the model server never sees them.
import type { V1Container, V1Volume } from "@kubernetes/client-node";
import pkg from "../../package.json" with { type: "json" };
import { FETCHER_CONTAINER, FETCHER_ENV, MODEL_VOLUME, type ModelVersion } from "../api/index.ts";
import { MODEL_MOUNT_PATH } from "./artifact.ts";
import { OPERATOR_IMAGE_SECURITY } from "./proxy-sidecar.ts";

/** The operator's own image, which carries the fetcher (the proxy has an image of its own). */
export const DEFAULT_FETCHER_IMAGE = `modelops-operator:${pkg.version}`;
/** Entry point of the fetcher in the operator's image. */
export const FETCHER_COMMAND = ["node", "operator/fetcher/main.ts"];
export { MODEL_VOLUME };

export interface FetcherOptions {
  image: string;
  /** The operator's --mlflow-tracking-uri, for models:/ artifacts whose ModelVersion names no server. */
  mlflowTrackingUri?: string | undefined;
}

export function fetcherContainer(mv: ModelVersion, opts: FetcherOptions): V1Container {
  const artifact = mv.spec.artifact;
  const env: { name: string; value: string }[] = [
    { name: FETCHER_ENV.uri, value: artifact.uri },
    { name: FETCHER_ENV.dest, value: MODEL_MOUNT_PATH },
  ];
  const add = (name: string, value: string | boolean | undefined) => {
    if (value !== undefined) env.push({ name, value: String(value) });
  };
  add(FETCHER_ENV.sha256, artifact.sha256);
  add(FETCHER_ENV.s3Endpoint, artifact.s3?.endpoint);
  add(FETCHER_ENV.s3Region, artifact.s3?.region);
  add(FETCHER_ENV.s3PathStyle, artifact.s3?.pathStyle);
  const mlflow = artifact.uri.startsWith("models:/");
  if (mlflow) add(FETCHER_ENV.mlflowTrackingUri, artifact.mlflow?.trackingUri ?? opts.mlflowTrackingUri);
  // The operator's default server is the administrator's choice, http or not.
  const httpDefault =
    mlflow && !artifact.mlflow?.trackingUri && opts.mlflowTrackingUri?.startsWith("http://");
  if (artifact.allowHttp || httpDefault) add(FETCHER_ENV.allowHttp, true);
  return {
    name: FETCHER_CONTAINER,
    image: opts.image,
    command: FETCHER_COMMAND,
    env,
    ...(artifact.secretRef ? { envFrom: [{ secretRef: { name: artifact.secretRef.name } }] } : {}),
    volumeMounts: [{ name: MODEL_VOLUME, mountPath: MODEL_MOUNT_PATH }],
    // Its last words (the failure reason) reach the pod's status, where the operator reads them.
    terminationMessagePolicy: "FallbackToLogsOnError",
    resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "512Mi" } },
    securityContext: OPERATOR_IMAGE_SECURITY,
  };
}

export function modelVolume(): V1Volume {
  return { name: MODEL_VOLUME, emptyDir: {} };
}
