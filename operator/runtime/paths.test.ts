import { describe, expect, it } from "vitest";
import { collectionRefOf, pluralOf, refOf, resourcePath } from "./paths.ts";

describe("resourcePath", () => {
  it.each([
    [{ apiVersion: "v1", kind: "Service", namespace: "a", name: "s" }, "/api/v1/namespaces/a/services/s"],
    [{ apiVersion: "apps/v1", kind: "Deployment", namespace: "a" }, "/apis/apps/v1/namespaces/a/deployments"],
    [{ apiVersion: "apps/v1", kind: "Deployment" }, "/apis/apps/v1/deployments"],
    [
      {
        apiVersion: "modelops.io/v1alpha1",
        kind: "ModelDeployment",
        namespace: "n",
        name: "m",
        subresource: "status",
      },
      "/apis/modelops.io/v1alpha1/namespaces/n/modeldeployments/m/status",
    ],
    [
      { apiVersion: "coordination.k8s.io/v1", kind: "Lease", namespace: "kube-system", name: "l" },
      "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/l",
    ],
    [
      { apiVersion: "autoscaling/v2", kind: "HorizontalPodAutoscaler", namespace: "n" },
      "/apis/autoscaling/v2/namespaces/n/horizontalpodautoscalers",
    ],
    [{ apiVersion: "v1", plural: "namespaces", name: "x" }, "/api/v1/namespaces/x"],
  ])("%j -> %s", (ref, path) => {
    expect(resourcePath(ref)).toBe(path);
  });

  it("rejects a subresource without a name", () => {
    expect(() => resourcePath({ apiVersion: "v1", kind: "Pod", subresource: "status" })).toThrow();
  });

  it("escapes names", () => {
    expect(resourcePath({ apiVersion: "v1", kind: "Pod", namespace: "a", name: "x/y" })).toBe(
      "/api/v1/namespaces/a/pods/x%2Fy",
    );
  });
});

describe("pluralOf", () => {
  it("guesses as Kubernetes does: lower case, then -s, -es or -ies", () => {
    expect(pluralOf("HorizontalPodAutoscaler")).toBe("horizontalpodautoscalers");
    expect(pluralOf("NetworkPolicy")).toBe("networkpolicies");
    expect(pluralOf("Ingress")).toBe("ingresses");
    expect(pluralOf("Widget")).toBe("widgets");
  });
});

describe("refOf", () => {
  it("derives object and collection refs", () => {
    const obj = { apiVersion: "v1", kind: "ConfigMap", metadata: { namespace: "n", name: "c" } };
    expect(resourcePath(refOf(obj))).toBe("/api/v1/namespaces/n/configmaps/c");
    expect(resourcePath(collectionRefOf(obj))).toBe("/api/v1/namespaces/n/configmaps");
    expect(() => refOf({ metadata: {} })).toThrow();
  });
});
