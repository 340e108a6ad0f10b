import { describe, expect, it } from "vitest";
import { parseListPage, parseS3Uri, s3ErrorCode } from "./s3.ts";
import { objectUrl, s3Config } from "./s3-client.ts";

describe("s3 addressing", () => {
  it("parses s3 URIs", () => {
    expect(parseS3Uri("s3://models/iris/v1")).toEqual({ bucket: "models", prefix: "iris/v1" });
    expect(parseS3Uri("s3://models")).toEqual({ bucket: "models", prefix: "" });
    expect(() => parseS3Uri("s3:///x")).toThrow(/not an s3:\/\/bucket\/prefix URI/);
  });

  it("defaults to AWS's regional endpoint, virtual-host style, anonymous", () => {
    const cfg = s3Config({ AWS_REGION: "eu-west-1" });
    expect(cfg.endpoint.href).toBe("https://s3.eu-west-1.amazonaws.com/");
    expect(cfg.credentials).toBeUndefined();
    expect(objectUrl(cfg, "models", "iris/v1/model a+b.pkl").href).toBe(
      "https://models.s3.eu-west-1.amazonaws.com/iris/v1/model%20a%2Bb.pkl",
    );
  });

  it("uses path style and MODELOPS_S3_REGION over AWS_REGION when asked", () => {
    const cfg = s3Config({
      MODELOPS_S3_ENDPOINT: "http://127.0.0.1:9000",
      MODELOPS_S3_PATH_STYLE: "true",
      MODELOPS_S3_REGION: "local",
      AWS_REGION: "eu-west-1",
      AWS_ACCESS_KEY_ID: "id",
      AWS_SECRET_ACCESS_KEY: "secret",
    });
    expect(cfg.region).toBe("local");
    expect(cfg.credentials).toEqual({
      accessKeyId: "id",
      secretAccessKey: "secret",
      sessionToken: undefined,
    });
    expect(objectUrl(cfg, "models", "", { "list-type": "2", prefix: "a/" }).href).toBe(
      "http://127.0.0.1:9000/models/?list-type=2&prefix=a%2F",
    );
  });
});

describe("s3 responses", () => {
  it("parses a ListObjectsV2 page with escaped keys and a continuation token", () => {
    const xml = `<?xml version="1.0"?><ListBucketResult><IsTruncated>true</IsTruncated>
      <Contents><Key>p/a&amp;b.txt</Key><Size>3</Size></Contents>
      <Contents><Key>p/sub/</Key><Size>0</Size></Contents>
      <NextContinuationToken>tok&amp;1</NextContinuationToken></ListBucketResult>`;
    expect(parseListPage(xml)).toEqual({
      objects: [
        { key: "p/a&b.txt", size: 3 },
        { key: "p/sub/", size: 0 },
      ],
      next: "tok&1",
    });
    expect(parseListPage("<IsTruncated>false</IsTruncated>").next).toBeUndefined();
  });

  it("reads the error code", () => {
    expect(s3ErrorCode("<Error><Code>AccessDenied</Code><Message>x</Message></Error>")).toBe("AccessDenied");
    expect(s3ErrorCode("")).toBeUndefined();
  });
});
