import { describe, expect, it } from "vitest";
import { checkScheme, FetchError } from "./http.ts";
import { progressReporter } from "./progress.ts";
import { makeRedactor, redactQueries, redactUrl } from "./redact.ts";

describe("redaction", () => {
  it("drops user info and the query (a presigned URL's signature) from URLs", () => {
    expect(
      redactUrl("https://u:p@bucket.s3.amazonaws.com/m.tgz?X-Amz-Signature=abc&X-Amz-Credential=AKIA"),
    ).toBe("https://…@bucket.s3.amazonaws.com/m.tgz?…");
    expect(redactUrl("https://h/m.bin")).toBe("https://h/m.bin");
    expect(redactUrl("models:/iris@champion")).toBe("models:/iris@champion");
    expect(redactUrl("s3://bucket/iris/v2")).toBe("s3://bucket/iris/v2");
    expect(redactQueries("GET https://h/a?token=s3cr3t failed; see http://x/y?z=1")).toBe(
      "GET https://h/a?… failed; see http://x/y?…",
    );
    expect(redactQueries(`${redactUrl("https://h/a?sig=1")}: 404 Not Found`)).toBe(
      "https://h/a?…: 404 Not Found",
    );
  });

  it("masks secret values and SigV4 fragments in any text", () => {
    const r = makeRedactor(["wJalrXUtnFEMI/K7MDENG", "AKIAIOSFODNN7EXAMPLE", undefined, "ab"]);
    expect(r("key AKIAIOSFODNN7EXAMPLE secret wJalrXUtnFEMI/K7MDENG ab")).toBe("key *** secret *** ab");
    expect(r(`Credential=AKIA/2013/us-east-1/s3/aws4_request, Signature=${"f".repeat(64)}`)).toBe(
      "Credential=***, Signature=***",
    );
  });
});

describe("http scheme policy", () => {
  it("refuses plain http unless allowed, saying how to allow it", () => {
    expect(() => checkScheme(new URL("http://h/m?sig=x"), false)).toThrow(FetchError);
    expect(() => checkScheme(new URL("http://h/m?sig=x"), false)).toThrow(
      "http://h/m?…: plain http artifact refused; use https, or set MODELOPS_ARTIFACT_ALLOW_HTTP=true",
    );
    expect(() => checkScheme(new URL("http://h/m"), true)).not.toThrow();
  });
});

describe("progressReporter", () => {
  it("reports every 10 % or every few seconds, not every chunk", () => {
    const lines: string[] = [];
    let t = 0;
    const p = progressReporter((l) => lines.push(l), "x", { everyMs: 5000, now: () => t });
    for (let b = 0; b <= 1000; b += 10) p(b, 1000);
    expect(lines.length).toBe(10);
    expect(lines.at(-1)).toBe("x: 1000 B of 1000 B (100%)");
    const q = progressReporter((l) => lines.push(l), "y", { everyMs: 5000, now: () => t });
    lines.length = 0;
    for (let i = 0; i < 100; i++) {
      t += 100;
      q(i * 2048, undefined);
    }
    expect(lines).toEqual(["y: 98.0 KiB", "y: 198.0 KiB"]);
  });
});
