// Which clients get a gzipped JSON answer: Accept-Encoding read as RFC 9110 12.5.3 defines it.
import { describe, expect, it } from "vitest";
import { acceptsGzip, clientAcceptEncoding } from "@worker/serve/server-timing";

describe("acceptsGzip", () => {
  it("admits gzip listed plainly, with a weight above 0, as x-gzip, or through a wildcard", () => {
    for (const header of ["gzip", "gzip, deflate, br", "br;q=1.0, gzip;q=0.8", "deflate, GZIP", "x-gzip", "*", "identity, *;q=0.5", "gzip, *;q=0"]) {
      expect(acceptsGzip(header), header).toBe(true);
    }
  });

  it("refuses gzip when the header is absent or empty, names other codings only, or weighs gzip at 0", () => {
    for (const header of [undefined, "", "identity", "br, deflate", "gzip;q=0", "gzip; q=0.000, identity", "*;q=0", "gzipx", "*, gzip;q=0"]) {
      expect(acceptsGzip(header), String(header)).toBe(false);
    }
  });
});

describe("clientAcceptEncoding", () => {
  const request = (header: string | null, cf?: Record<string, unknown>) => {
    const req = new Request("https://slimserve.test/", header === null ? {} : { headers: { "Accept-Encoding": header } });
    if (cf) Object.defineProperty(req, "cf", { value: cf });
    return req;
  };

  it("reads the client's own header where the front line replaced it (cf.clientAcceptEncoding), even when empty", () => {
    expect(clientAcceptEncoding(request("br, gzip", { clientAcceptEncoding: "identity" }))).toBe("identity");
    expect(clientAcceptEncoding(request("br, gzip", { clientAcceptEncoding: "" }))).toBe("");
  });

  it("reads the request's header where no front line stands (or it kept none), and undefined when there is none", () => {
    expect(clientAcceptEncoding(request("gzip, deflate"))).toBe("gzip, deflate");
    expect(clientAcceptEncoding(request("gzip", { country: "NL" }))).toBe("gzip");
    expect(clientAcceptEncoding(request(null))).toBeUndefined();
  });
});
