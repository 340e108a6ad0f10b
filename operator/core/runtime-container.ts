// Per-runtime container wiring: how each serving runtime is told where the
// model is, which ports to serve on (HTTP, and gRPC when runtime.grpcPort is
// set), and how readiness is probed.
import { type ArtifactLocation, MODEL_MOUNT_PATH } from "./artifact.ts";

export type RuntimeSpec = {
  name: string;
  image: string;
  protocol: "v1" | "v2";
  port: number;
  grpcPort?: number | undefined;
  args?: string[] | undefined;
  env?: { name: string; value: string }[] | undefined;
};

export type ContainerWiring = {
  env: { name: string; value: string }[];
  args: string[];
  readinessPath: string;
};

// MLServer picks its inference implementation from the artifact's format.
const MLSERVER_IMPLEMENTATIONS: Record<string, string> = {
  sklearn: "mlserver_sklearn.SKLearnModel",
  xgboost: "mlserver_xgboost.XGBoostModel",
  lightgbm: "mlserver_lightgbm.LightGBMModel",
  mlflow: "mlserver_mlflow.MLflowRuntime",
};

/** The path inside the container at which the model artifact is readable. */
export function modelPathInContainer(location: ArtifactLocation): string {
  return location.kind === "file" ? location.path : MODEL_MOUNT_PATH;
}

export function wireRuntime(
  runtime: RuntimeSpec,
  model: { name: string; format?: string | undefined; uri: string },
  location: ArtifactLocation,
): ContainerWiring {
  const path = modelPathInContainer(location);
  const port = String(runtime.port);
  const grpcPort = runtime.grpcPort === undefined ? undefined : String(runtime.grpcPort);
  const readinessPath = runtime.protocol === "v2" ? "/v2/health/ready" : `/v1/models/${model.name}`;
  const common: ContainerWiring = { env: [], args: [], readinessPath };
  switch (runtime.name) {
    case "mlserver": {
      common.env.push(
        { name: "MLSERVER_HTTP_PORT", value: port },
        { name: "MLSERVER_MODEL_NAME", value: model.name },
        { name: "MLSERVER_MODEL_URI", value: path },
      );
      if (grpcPort) common.env.push({ name: "MLSERVER_GRPC_PORT", value: grpcPort });
      const impl = model.format ? MLSERVER_IMPLEMENTATIONS[model.format] : undefined;
      if (impl) common.env.push({ name: "MLSERVER_MODEL_IMPLEMENTATION", value: impl });
      break;
    }
    case "triton":
      common.args.push("tritonserver", `--model-repository=${path}`, `--http-port=${port}`);
      if (grpcPort) common.args.push(`--grpc-port=${grpcPort}`);
      break;
    case "torchserve":
      common.args.push(
        "torchserve",
        "--foreground",
        "--model-store",
        path,
        "--models",
        `${model.name}=${model.name}.mar`,
      );
      break;
    case "tfserving":
      common.args.push(`--model_name=${model.name}`, `--model_base_path=${path}`, `--rest_api_port=${port}`);
      if (grpcPort) common.args.push(`--port=${grpcPort}`);
      break;
    default:
      common.env.push({ name: "MODEL_URI", value: location.kind === "remote" ? model.uri : path });
      common.env.push({ name: "PORT", value: port });
      if (grpcPort) common.env.push({ name: "GRPC_PORT", value: grpcPort });
  }
  common.env.push(...(runtime.env ?? []));
  common.args.push(...(runtime.args ?? []));
  return common;
}
