import { describe, expect, it } from "vitest";
import { channelsFrom, parseNotificationsConfig, wants } from "./config.ts";

describe("channelsFrom", () => {
  it("turns webhooks and slack into channels, events defaulting to all", () => {
    const channels = channelsFrom({
      webhooks: [
        { name: "ops", url: "https://hooks.example.com/modelops", headersSecret: "ops-headers" },
        { name: "audit", urlSecret: { name: "audit", key: "url" }, events: ["Promoted", "RolledBack"] },
      ],
      slack: { webhookUrlSecret: { name: "slack", key: "url" }, events: ["RolloutPaused"] },
    });
    expect(channels.map((c) => [c.name, c.format])).toEqual([
      ["ops", "webhook"],
      ["audit", "webhook"],
      ["slack", "slack"],
    ]);
    const [ops, audit, slack] = channels;
    expect(ops?.url).toBe("https://hooks.example.com/modelops");
    expect(ops?.headersSecret).toBe("ops-headers");
    expect(audit?.urlSecret).toEqual({ name: "audit", key: "url" });
    expect(ops && wants(ops, "DriftCritical")).toBe(true);
    expect(audit && wants(audit, "Promoted")).toBe(true);
    expect(audit && wants(audit, "RolloutStarted")).toBe(false);
    expect(slack && wants(slack, "RolloutPaused")).toBe(true);
    expect(slack && wants(slack, "Promoted")).toBe(false);
  });

  it("an empty config has no channels", () => {
    expect(channelsFrom({})).toEqual([]);
  });

  it.each([
    [{ webhooks: [{ name: "ops" }] }, "webhooks[0]: set exactly one of url or urlSecret"],
    [
      { webhooks: [{ name: "ops", url: "https://a.example", urlSecret: { name: "s", key: "k" } }] },
      "webhooks[0]: set exactly one of url or urlSecret",
    ],
    [{ webhooks: [{ name: "ops", url: "ftp://a.example" }] }, "webhooks[0].url"],
    [{ webhooks: [{ name: "Ops!", url: "https://a.example" }] }, "webhooks[0].name: a lower-case name"],
    [
      { webhooks: [{ name: "ops", url: "https://a.example", events: ["Deployed"] }] },
      "webhooks[0].events[0]",
    ],
    [{ webhooks: [{ name: "ops", url: "https://a.example", header: "x" }] }, 'Unrecognized key: "header"'],
    [{ slack: { webhookUrl: "https://hooks.example" } }, "slack.webhookUrlSecret"],
    [{ slacks: {} }, 'Unrecognized key: "slacks"'],
    [
      {
        webhooks: [{ name: "slack", url: "https://a.example" }],
        slack: { webhookUrlSecret: { name: "s", key: "u" } },
      },
      'channel name "slack" is used twice',
    ],
  ])("refuses %j, saying %s", (config, message) => {
    expect(() => channelsFrom(config)).toThrow(message);
    expect(() => channelsFrom(config)).toThrow(/^--notifications-config: /);
  });
});

describe("parseNotificationsConfig", () => {
  it("reads JSON and says so when it is not", () => {
    expect(parseNotificationsConfig('{"webhooks":[{"name":"a","url":"https://a.example"}]}')).toHaveLength(1);
    expect(() => parseNotificationsConfig("webhooks: []")).toThrow(/--notifications-config: not JSON/);
  });
});
