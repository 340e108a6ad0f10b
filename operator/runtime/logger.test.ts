import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, silentLogger } from "./logger.ts";

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(JSON.parse(String(chunk)));
      cb();
    },
  });
  return { lines, destination };
}

describe("createLogger", () => {
  it("writes one JSON line per event with level label, time and child fields", () => {
    const { lines, destination } = capture();
    const log = createLogger({ level: "debug", name: "op", destination });
    log.child({ controller: "c", namespace: "n", name: "x", reconcileID: "r" }).debug("hello");
    expect(lines[0]).toMatchObject({
      level: "debug",
      component: "op",
      name: "x",
      controller: "c",
      namespace: "n",
      reconcileID: "r",
      msg: "hello",
    });
    expect(String(lines[0]?.time)).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it("honours the level", () => {
    const { lines, destination } = capture();
    createLogger({ level: "warn", destination }).info("dropped");
    expect(lines).toHaveLength(0);
  });

  it("redacts secret-looking fields", () => {
    const { lines, destination } = capture();
    createLogger({ destination }).info({ secret: { data: { k: "c2VjcmV0" } }, req: { token: "abc" } }, "x");
    expect(JSON.stringify(lines[0])).not.toContain("c2VjcmV0");
    expect(JSON.stringify(lines[0])).not.toContain("abc");
  });

  it("silentLogger logs nothing", () => {
    expect(silentLogger().isLevelEnabled("error")).toBe(false);
  });
});
