import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeApiServer, sendStatus } from "../testing/fake-apiserver.ts";
import { EventRecorder, truncateUtf8 } from "./events.ts";
import { KubeClient } from "./kube.ts";

const EVENTS = "/apis/events.k8s.io/v1/namespaces/ns/events";
const mdep = {
  apiVersion: "modelops.io/v1alpha1",
  kind: "ModelDeployment",
  metadata: { namespace: "ns", name: "m", uid: "u1", resourceVersion: "7" },
};

let fake: FakeApiServer;
let now = 1_700_000_000_000;
let recorder: EventRecorder;

beforeEach(async () => {
  fake = await new FakeApiServer().start();
  recorder = new EventRecorder({
    kube: new KubeClient(fake.kubeConfig()),
    now: () => now,
    reportingController: "modelops.io/operator",
    reportingInstance: "pod-1",
  });
});
afterEach(async () => fake.stop());

const creates = () => fake.requests.filter((r) => r.method === "POST");
const patches = () => fake.requests.filter((r) => r.method === "PATCH");

describe("EventRecorder", () => {
  it("creates an events.k8s.io/v1 Event about the object", async () => {
    await recorder.normal(mdep, "RolloutStarted", "rolling out v2");
    expect(creates()).toHaveLength(1);
    expect(creates()[0]?.path).toBe(EVENTS);
    expect(creates()[0]?.body).toMatchObject({
      apiVersion: "events.k8s.io/v1",
      kind: "Event",
      type: "Normal",
      reason: "RolloutStarted",
      action: "RolloutStarted",
      note: "rolling out v2",
      reportingController: "modelops.io/operator",
      reportingInstance: "pod-1",
      regarding: { kind: "ModelDeployment", name: "m", namespace: "ns", uid: "u1" },
    });
    expect((creates()[0]?.body as { eventTime?: string } | undefined)?.eventTime).toMatch(/\.\d{6}Z$/);
  });

  it("folds identical events within the window into a series", async () => {
    await recorder.warning(mdep, "AnalysisFailed", "error rate 5%");
    now += 1000;
    await recorder.warning(mdep, "AnalysisFailed", "error rate 5%");
    now += 1000;
    await recorder.warning(mdep, "AnalysisFailed", "error rate 5%");
    expect(creates()).toHaveLength(1);
    expect(patches()).toHaveLength(2);
    expect(patches()[1]?.body).toMatchObject({ series: { count: 3 } });
    expect(patches()[1]?.contentType).toBe("application/merge-patch+json");
  });

  it("a burst of concurrent identical events creates one Event", async () => {
    await Promise.all([1, 2, 3, 4].map(() => recorder.normal(mdep, "Scaled", "x")));
    expect(creates()).toHaveLength(1);
    expect(patches()).toHaveLength(3);
  });

  it("creates a new Event when the message differs or the window passed", async () => {
    await recorder.normal(mdep, "R", "a");
    await recorder.normal(mdep, "R", "b");
    now += 10 * 60_000;
    await recorder.normal(mdep, "R", "a");
    expect(creates()).toHaveLength(3);
  });

  it("re-creates when the series Event was deleted", async () => {
    await recorder.normal(mdep, "R", "a");
    const name = (creates()[0]?.body as { metadata?: { name?: string } } | undefined)?.metadata?.name;
    fake.remove(`${EVENTS}/${name}`);
    await recorder.normal(mdep, "R", "a");
    expect(creates()).toHaveLength(2);
  });

  it("never throws on apiserver errors", async () => {
    fake.interceptors.push((_r, res) => {
      sendStatus(res, 403, "Forbidden", "events is forbidden");
      return true;
    });
    await expect(recorder.warning(mdep, "R", "m")).resolves.toBeUndefined();
  });

  it("uses the default namespace for cluster-scoped objects and truncates long notes", async () => {
    await recorder.normal(
      { apiVersion: "v1", kind: "Node", metadata: { name: "n1" } },
      "R",
      "é".repeat(2000),
    );
    const body = creates()[0]?.body as { note: string };
    expect(creates()[0]?.path).toBe("/apis/events.k8s.io/v1/namespaces/default/events");
    expect(Buffer.byteLength(body.note)).toBeLessThanOrEqual(1024);
  });
});

describe("truncateUtf8", () => {
  it("keeps short strings and cuts long ones with an ellipsis", () => {
    expect(truncateUtf8("abc", 10)).toBe("abc");
    expect(truncateUtf8("abcdefghijkl", 10)).toBe("abcdefg...");
  });
});
