import { describe, expect, it } from "vitest";
import { EMPTY_SHA256, signV4, uriEncode } from "./sigv4.ts";

// The "GET Object" example of AWS's SigV4 documentation for S3
// (sig-v4-header-based-auth.html, "Example: GET Object").
const credentials = {
  accessKeyId: "AKIAIOSFODNN7EXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
};

describe("signV4", () => {
  it("reproduces AWS's published GET Object signature", () => {
    const s = signV4({
      method: "GET",
      url: new URL("https://examplebucket.s3.amazonaws.com/test.txt"),
      headers: { Range: "bytes=0-9" },
      payloadHash: EMPTY_SHA256,
      credentials,
      region: "us-east-1",
      date: new Date("2013-05-24T00:00:00Z"),
    });
    expect(s.signature).toBe("f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    expect(s.headers.authorization).toBe(
      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
    );
  });

  it("reproduces AWS's published GET Bucket (List Objects) signature", () => {
    const s = signV4({
      method: "GET",
      url: new URL("https://examplebucket.s3.amazonaws.com/?max-keys=2&prefix=J"),
      payloadHash: EMPTY_SHA256,
      credentials,
      region: "us-east-1",
      date: new Date("2013-05-24T00:00:00Z"),
    });
    expect(s.signature).toBe("34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
  });

  it("signs the session token and encodes keys once", () => {
    const s = signV4({
      method: "GET",
      url: new URL("http://127.0.0.1:9000/b/a%20b/c+d"),
      payloadHash: EMPTY_SHA256,
      credentials: { ...credentials, sessionToken: "tok" },
      region: "us-east-1",
      date: new Date("2013-05-24T00:00:00Z"),
    });
    expect(s.headers["x-amz-security-token"]).toBe("tok");
    expect(s.canonicalRequest.split("\n")[1]).toBe("/b/a%20b/c%2Bd");
    expect(uriEncode("a b/ü~", true)).toBe("a%20b/%C3%BC~");
  });
});
