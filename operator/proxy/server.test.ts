// The proxy's HTTP behaviour against loopback stand-in model servers:
// forwarding, passthrough, unparsed bodies, upstream failure and shadow
// mirroring. The real model server is in e2e/proxy.test.ts.
import { createServer } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { REVISION_HEADER } from "../api/contract.ts";
import { SHADOW_HEADER } from "../api/proxy-config.ts";
import type { RunningProxy } from "./test-servers.ts";
import { closeAll, labels, metricsOf, post, proxy, serveOnLoopback, upstream, v2 } from "./test-servers.ts";

afterEach(closeAll);

describe("modelops-proxy server", () => {
  it("forwards an inference call unchanged and records features, predictions and the status class", async () => {
    const up = await upstream((req, body) => ({
      status: 200,
      body: req.url?.endsWith("/infer") ? labels(["a", "z"]) : body,
    }));
    const p = await proxy({ upstream: up });
    const res = await post(p, "/v2/models/iris/infer", v2([0.5, 1.5]));
    expect(res.status).toBe(200);
    expect(res.headers.get("x-upstream")).toBe("yes");
    expect(await res.text()).toBe(labels(["a", "z"]));
    const m = await metricsOf(p);
    expect(m).toMatch(
      /modelops_proxy_requests_total\{code="2xx",namespace="ns",deployment="iris",revision="r1",version="iris-v1"\} 1/,
    );
    expect(m).toContain(
      'modelops_proxy_feature_value_bucket{namespace="ns",deployment="iris",revision="r1",version="iris-v1",feature="x",le="1"} 1',
    );
    expect(m).toMatch(/modelops_proxy_prediction_category_total\{.*output="label",category="a"\} 1/);
    expect(m).toMatch(/modelops_proxy_prediction_category_total\{.*output="label",category="__other__"\} 1/);
  });

  it("passes other paths through untouched and counts them apart", async () => {
    const up = await upstream((req) => ({ status: req.url === "/v2/health/ready" ? 200 : 404, body: "" }));
    const p = await proxy({ upstream: up });
    expect((await fetch(`http://127.0.0.1:${p.port}/v2/health/ready`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${p.port}/nope`)).status).toBe(404);
    const m = await metricsOf(p);
    expect(m).toMatch(/modelops_proxy_passthrough_requests_total\{code="2xx".*\} 1/);
    expect(m).toMatch(/modelops_proxy_passthrough_requests_total\{code="4xx".*\} 1/);
    expect(m).toMatch(/modelops_proxy_requests_total\{code="2xx".*\} 0/);
  });

  it("forwards a body it cannot parse and counts it, never rejecting it", async () => {
    const seen: string[] = [];
    const up = await upstream((_req, body) => {
      seen.push(body);
      return { status: 400, body: "bad" };
    });
    const p = await proxy({ upstream: up });
    const res = await post(p, "/v2/models/iris/infer", "{not json");
    expect(res.status).toBe(400);
    expect(seen).toEqual(["{not json"]);
    const m = await metricsOf(p);
    expect(m).toMatch(/modelops_proxy_unparsed_payloads_total\{part="request".*\} 1/);
    expect(m).toMatch(/modelops_proxy_requests_total\{code="4xx".*\} 1/);
  });

  it("answers 502 and counts 5xx when the model server is down", async () => {
    const p = await proxy({ upstream: "http://127.0.0.1:1" });
    const res = await post(p, "/v2/models/iris/infer", v2([1]));
    expect(res.status).toBe(502);
    expect(await metricsOf(p)).toMatch(/modelops_proxy_requests_total\{code="5xx".*\} 1/);
  });

  it("names the revision that answered on every answer: the model's, its errors and the proxy's own", async () => {
    const up = await upstream((req) =>
      req.url === "/v2/models/iris/infer"
        ? { status: 200, body: labels(["a"]) }
        : { status: req.url === "/v2/models/broken/infer" ? 500 : 404, body: "no" },
    );
    const p = await proxy({ upstream: up, revision: "5f1c0a9e2b", mirrorPercent: 20 });
    const answers = [
      await post(p, "/v2/models/iris/infer", v2([1])),
      await post(p, "/v2/models/broken/infer", v2([1])), // the model's own error
      await fetch(`http://127.0.0.1:${p.port}/v2/nope`), // passed through
      await fetch(`http://127.0.0.1:${p.port}/.modelops/mirror`), // the proxy's own answer
    ];
    expect(answers.map((r) => [r.status, r.headers.get(REVISION_HEADER)])).toEqual([
      [200, "5f1c0a9e2b"],
      [500, "5f1c0a9e2b"],
      [404, "5f1c0a9e2b"],
      [200, "5f1c0a9e2b"],
    ]);
    // The model's own headers still pass through.
    expect(answers[0]?.headers.get("x-upstream")).toBe("yes");
    expect(answers[0]?.headers.get("content-type")).toBe("application/json");

    const down = await proxy({ upstream: "http://127.0.0.1:1", revision: "r9" });
    for (const res of [
      await post(down, "/v2/models/iris/infer", v2([1])),
      await fetch(`http://127.0.0.1:${down.port}/x`),
    ]) {
      expect([res.status, res.headers.get(REVISION_HEADER)]).toEqual([502, "r9"]);
    }
  });

  it("is the only one to name the revision, and names none on a mirrored copy's answer", async () => {
    // A model server (or anything behind it) claiming a revision does not speak for the proxy.
    const lying = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json", [REVISION_HEADER]: "someone-else" });
      res.end(labels(["a"]));
    });
    const p = await proxy({ upstream: await serveOnLoopback(lying), revision: "r1" });
    const res = await post(p, "/v2/models/iris/infer", v2([1]));
    expect(res.headers.get(REVISION_HEADER)).toBe("r1");
    // A copy mirrored to this (shadow) revision: only the mirroring proxy or Envoy reads its answer.
    const copy = await fetch(`http://127.0.0.1:${p.port}/v2/models/iris/infer`, {
      method: "POST",
      body: v2([1]),
      headers: { "content-type": "application/json", [SHADOW_HEADER]: "1" },
    });
    expect(copy.status).toBe(200);
    expect(copy.headers.has(REVISION_HEADER)).toBe(false);
    expect(await copy.text()).toBe(labels(["a"]));
  });

  it("mirrors to the shadow, compares labels, and never waits for it", async () => {
    const primary = await upstream(() => ({ status: 200, body: labels(["a", "b", "a"]) }));
    const shadow = await upstream(() => ({ status: 200, body: labels(["a", "a", "a"]), delayMs: 300 }));
    const p = await proxy({ upstream: primary, shadow: { url: shadow, percent: 100, maxConcurrent: 1 } });
    const t0 = performance.now();
    const [first, second] = await Promise.all([
      post(p, "/v2/models/iris/infer", v2([1, 2, 3])),
      post(p, "/v2/models/iris/infer", v2([1, 2, 3])),
    ]);
    expect(performance.now() - t0).toBeLessThan(250);
    expect([first.status, second.status]).toEqual([200, 200]);
    await new Promise((r) => setTimeout(r, 500));
    const m = await metricsOf(p);
    // maxConcurrent 1: the second copy found the first still in flight.
    expect(m).toMatch(/modelops_proxy_shadow_requests_total\{result="dropped",code="".*\} 1/);
    expect(m).toMatch(/modelops_proxy_shadow_requests_total\{result="sent",code="2xx".*\} 1/);
    expect(m).toMatch(/modelops_proxy_shadow_agreement_total\{result="agree".*\} 2/);
    expect(m).toMatch(/modelops_proxy_shadow_agreement_total\{result="disagree".*\} 1/);
  });

  it("counts the copies a shadow receives as mirrored, so client load counts each request once", async () => {
    const model = await upstream(() => ({ status: 200, body: labels(["a"]) }));
    const shadow = await proxy({ upstream: model, revision: "r2", version: "iris-v2" });
    const stable = await proxy({
      upstream: model,
      shadow: { url: `http://127.0.0.1:${shadow.port}`, percent: 100 },
    });
    for (let i = 0; i < 3; i++)
      expect((await post(stable, "/v2/models/iris/infer", v2([1]))).status).toBe(200);
    const count = async (p: RunningProxy, name: string) =>
      Number((await metricsOf(p)).match(new RegExp(`^${name}\\{[^}]*\\} (\\d+)$`, "m"))?.[1]);
    await expect.poll(() => count(shadow, "modelops_proxy_mirrored_requests_total")).toBe(3);
    expect(await count(shadow, "modelops_proxy_requests_total")).toBe(3); // analysis of the shadow still sees them
    expect(await count(stable, "modelops_proxy_requests_total")).toBe(3);
    expect(await count(stable, "modelops_proxy_mirrored_requests_total")).toBe(0);
    expect(await count(shadow, "modelops_proxy_mirrored_inflight_requests")).toBe(0);
  });

  it("mirrors only while a shadow answers with the share it asks for, without a restart at either end", async () => {
    const model = await upstream(() => ({ status: 200, body: labels(["a"]) }));
    let shadow: RunningProxy | undefined = await proxy({
      upstream: model,
      revision: "r2",
      mirrorPercent: 100,
    });
    // One port for the shadow's Service, which exists only during the shadow rollout.
    const port = shadow.port;
    const stable = await proxy({
      upstream: model,
      shadow: { url: `http://127.0.0.1:${port}`, discoverEveryMs: 100 },
    });
    const mirrored = async () =>
      shadow
        ? Number(
            (await metricsOf(shadow)).match(/^modelops_proxy_mirrored_requests_total\{[^}]*\} (\d+)$/m)?.[1],
          )
        : 0;
    await expect
      .poll(async () => {
        await post(stable, "/v2/models/iris/infer", v2([1]));
        return mirrored();
      })
      .toBeGreaterThan(0);
    // The shadow's own proxy never copies a copy.
    expect((await fetch(`http://127.0.0.1:${port}/.modelops/mirror`)).status).toBe(200);
    await shadow.stop();
    shadow = undefined;
    // Gone (the rollout ended): the stable proxy stops mirroring, and counts no errors for it.
    await new Promise((r) => setTimeout(r, 400));
    const before = await metricsOf(stable);
    for (let i = 0; i < 5; i++)
      expect((await post(stable, "/v2/models/iris/infer", v2([1]))).status).toBe(200);
    const sent = (m: string) =>
      m.match(/modelops_proxy_shadow_requests_total\{result="(sent|error)"[^}]*\} (\d+)/g);
    expect(sent(await metricsOf(stable))).toEqual(sent(before));
  });

  it("answers the mirror share only on a shadow revision", async () => {
    const model = await upstream(() => ({ status: 200, body: labels(["a"]) }));
    const shadow = await proxy({ upstream: model, mirrorPercent: 40 });
    const plain = await proxy({ upstream: model });
    const ask = (p: RunningProxy) => fetch(`http://127.0.0.1:${p.port}/.modelops/mirror`);
    expect(await (await ask(shadow)).json()).toEqual({ percent: 40 });
    expect((await ask(plain)).status).toBe(404);
  });
});
