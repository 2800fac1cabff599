import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { defaultStoreUrl, openStore, parseStoreUrl, resolveStoreUrl } from "../../../core/store/index.ts";
import { s3Config } from "../../../core/store/s3-config.ts";

describe("store URL resolution (pure)", () => {
  test("default: $XDG_DATA_HOME/eve/snapshots, else ~/.local/share/eve/snapshots", () => {
    expect(defaultStoreUrl({ XDG_DATA_HOME: "/data", HOME: "/home/u" })).toBe("file:///data/eve/snapshots");
    expect(defaultStoreUrl({ HOME: "/home/u" })).toBe("file:///home/u/.local/share/eve/snapshots");
    // A relative XDG_DATA_HOME is invalid per the XDG spec and ignored.
    expect(defaultStoreUrl({ XDG_DATA_HOME: "rel", HOME: "/home/u" })).toBe("file:///home/u/.local/share/eve/snapshots");
  });

  test("precedence: --store, then EVE_SNAPSHOT_STORE, then the default", () => {
    const env = { EVE_SNAPSHOT_STORE: "s3://env-bucket/p", HOME: "/home/u" };
    expect(resolveStoreUrl("file:///flag", env)).toBe("file:///flag");
    expect(resolveStoreUrl(undefined, env)).toBe("s3://env-bucket/p");
    expect(resolveStoreUrl(undefined, { HOME: "/home/u", EVE_SNAPSHOT_STORE: "" })).toBe("file:///home/u/.local/share/eve/snapshots");
  });

  test("parseStoreUrl", () => {
    expect(parseStoreUrl("file:///var/backups/eve/")).toEqual({ kind: "file", dir: "/var/backups/eve", url: "file:///var/backups/eve" });
    expect(parseStoreUrl("/var/backups//eve")).toEqual({ kind: "file", dir: "/var/backups/eve", url: "file:///var/backups/eve" });
    expect(parseStoreUrl("file:///with%20space")).toMatchObject({ dir: "/with space" });
    expect(parseStoreUrl("s3://my-bucket")).toEqual({ kind: "s3", bucket: "my-bucket", prefix: "", url: "s3://my-bucket" });
    expect(parseStoreUrl("s3://my-bucket/a//b/")).toEqual({ kind: "s3", bucket: "my-bucket", prefix: "a/b", url: "s3://my-bucket/a/b" });
    for (const bad of ["relative/dir", "file://host/dir", "ftp://x/y", "s3://Bad_Bucket/x", "s3://b/x", "s3://bucket/x?y=1", "s3://"]) {
      expect(() => parseStoreUrl(bad)).toThrow(expect.objectContaining({ code: "E_USAGE" }));
    }
  });

  test("openStore builds the right kind without I/O and validates EVE_S3_ENDPOINT up front", () => {
    expect(openStore("file:///nonexistent/dir", {}).kind).toBe("file");
    const s = openStore("s3://bucket-a/prefix/", { EVE_S3_ENDPOINT: "http://127.0.0.1:1" });
    expect([s.kind, s.url]).toEqual(["s3", "s3://bucket-a/prefix"]);
    expect(() => openStore("s3://bucket-a/p", { EVE_S3_ENDPOINT: "localhost:9000" })).toThrow(expect.objectContaining({ code: "E_USAGE" }));
  });

  test("S3 client settings from the environment", () => {
    const c = s3Config({
      AWS_REGION: "eu-west-3",
      AWS_ACCESS_KEY_ID: "AKIA1",
      AWS_SECRET_ACCESS_KEY: "s3cret",
      EVE_S3_ENDPOINT: "http://minio:9000",
      EVE_S3_FORCE_PATH_STYLE: "true",
    });
    expect(c).toMatchObject({
      region: "eu-west-3",
      endpoint: "http://minio:9000",
      forcePathStyle: true,
      credentials: { accessKeyId: "AKIA1", secretAccessKey: "s3cret" },
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
    const d = s3Config({ AWS_DEFAULT_REGION: "ap-south-1" });
    expect(d.region).toBe("ap-south-1");
    expect(d.forcePathStyle).toBe(false);
    expect(d.credentials).toBeUndefined(); // the SDK's default chain
    expect(s3Config({}).region).toBe("us-east-1");
  });

  test("the AWS SDK is only imported lazily (type-only static imports in core/store)", () => {
    const dir = join(import.meta.dir, "../../../core/store");
    for (const f of readdirSync(dir).filter((n) => n.endsWith(".ts"))) {
      const src = readFileSync(join(dir, f), "utf8");
      for (const line of src.split("\n").filter((l) => /^\s*import\b.*["']@aws-sdk\//.test(l))) {
        expect(`${f}: ${line}`).toMatch(/^[^:]+: import type /);
      }
    }
  });
});
