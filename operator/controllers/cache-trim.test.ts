import { describe, expect, it } from "vitest";
import type { ModelDeployment } from "../api/index.ts";
import type { KubeObject } from "../runtime/types.ts";
import { LAST_APPLIED_ANNOTATION, trimDeployment, trimModelDeployment, trimObject } from "./cache-trim.ts";
import { modelVersionSetBy } from "./modeldeployment/gates.ts";

const managedFields = [
  {
    manager: "kubectl-client-side-apply",
    operation: "Update",
    time: "2026-01-01T00:00:00Z",
    fieldsV1: { "f:spec": { "f:modelVersion": {}, "f:replicas": {} }, "f:metadata": { "f:labels": {} } },
  },
  {
    manager: "pipeline",
    operation: "Apply",
    time: "2026-01-02T00:00:00Z",
    fieldsV1: { "f:spec": { "f:modelVersion": {} } },
  },
  {
    manager: "modelops-operator",
    operation: "Apply",
    time: "2026-01-03T00:00:00Z",
    fieldsV1: { "f:status": {} },
  },
];

function obj(extra: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: "m-abc",
      namespace: "ns",
      labels: { "modelops.io/deployment": "m" },
      annotations: { [LAST_APPLIED_ANNOTATION]: "{...}", "modelops.io/applied-hash": "h" },
      ownerReferences: [
        {
          apiVersion: "modelops.io/v1alpha1",
          kind: "ModelDeployment",
          name: "m",
          uid: "u",
          controller: true,
        },
      ],
      managedFields,
      resourceVersion: "7",
    },
    ...extra,
  };
}

describe("cache trimming", () => {
  it("drops managedFields and the last-applied annotation, keeps the rest, and leaves the input alone", () => {
    const input = obj({ spec: { ports: [{ port: 80 }] } });
    const before = JSON.stringify(input);
    const out = trimObject(input);
    expect(out.metadata?.managedFields).toBeUndefined();
    expect(out.metadata?.annotations).toEqual({ "modelops.io/applied-hash": "h" });
    expect(out.metadata?.labels).toEqual({ "modelops.io/deployment": "m" });
    expect(out.metadata?.ownerReferences).toHaveLength(1);
    expect(out.metadata?.resourceVersion).toBe("7");
    expect(out.spec).toEqual({ ports: [{ port: 80 }] });
    expect(JSON.stringify(input)).toBe(before);
  });

  it("keeps of a ModelDeployment's managedFields only who set spec.modelVersion, which the audit trail reads", () => {
    const mdep = obj({
      apiVersion: "modelops.io/v1alpha1",
      kind: "ModelDeployment",
      spec: { modelVersion: "v2" },
    });
    const trimmed = trimModelDeployment(mdep);
    const kept = trimmed.metadata?.managedFields as Array<{ manager: string }>;
    expect(kept.map((e) => e.manager)).toEqual(["kubectl-client-side-apply", "pipeline"]);
    expect(modelVersionSetBy(trimmed as unknown as ModelDeployment)).toEqual(
      modelVersionSetBy(mdep as unknown as ModelDeployment),
    );
    expect(modelVersionSetBy(trimmed as unknown as ModelDeployment)?.manager).toBe("pipeline");
  });

  it("has no managedFields on a ModelDeployment whose spec.modelVersion nobody claims", () => {
    const mdep = obj();
    (mdep.metadata as { managedFields?: unknown }).managedFields = [managedFields[2]];
    expect(trimModelDeployment(mdep).metadata?.managedFields).toBeUndefined();
  });

  it("drops a Deployment's pod template but keeps what the reconciler reads", () => {
    const status = {
      readyReplicas: 1,
      conditions: [{ type: "Progressing", reason: "NewReplicaSetAvailable" }],
    };
    const d = obj({
      spec: {
        replicas: 3,
        progressDeadlineSeconds: 600,
        selector: {},
        template: { spec: { containers: [] } },
      },
      status,
    });
    const out = trimDeployment(d);
    expect(out.spec).toEqual({ replicas: 3, progressDeadlineSeconds: 600, selector: {} });
    expect(out.status).toEqual(status);
    expect(out.metadata?.managedFields).toBeUndefined();
    expect((d.spec as { template?: unknown }).template).toBeDefined();
  });
});
