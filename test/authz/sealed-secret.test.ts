import { describe, expect, test } from "bun:test";
import * as ed from "@noble/ed25519";
import {
  openSealed,
  SealedSecretError,
  sealToHost,
  x25519PublicFromEd25519,
} from "../../src/authz/sealed-secret.ts";
import { sealedSecretSchema } from "../../src/ops/params/sealed.ts";

const seed = (n: number) => new Uint8Array(32).fill(n);

describe("secrets sealed to the host key (docs/hub-protocol.md#sealed-secrets)", () => {
  test("what the hub seals to a host's ed25519 public key only that host's seed opens", async () => {
    const pub = await ed.getPublicKeyAsync(seed(1));
    const box = sealToHost("s3cret password", pub);
    expect(sealedSecretSchema.parse(box)).toEqual(box);
    expect(box.sealed).not.toContain("s3cret");
    expect(openSealed(box, seed(1))).toBe("s3cret password");
    expect(() => openSealed(box, seed(2))).toThrow(SealedSecretError);
  });

  test("every seal is fresh (ephemeral key, nonce), and a changed byte does not open", async () => {
    const pub = await ed.getPublicKeyAsync(seed(3));
    const a = sealToHost("same", pub);
    const b = sealToHost("same", pub);
    expect(a.sealed).not.toBe(b.sealed);
    const bytes = Buffer.from(a.sealed, "base64");
    bytes[bytes.length - 20] = (bytes[bytes.length - 20] as number) ^ 1;
    expect(() => openSealed({ sealed: bytes.toString("base64") }, seed(3))).toThrow(
      "does not open with this host's key",
    );
    expect(() => openSealed({ sealed: "AAAA" }, seed(3))).toThrow("not a version 1 box");
  });

  test("the error never repeats the secret or the box", async () => {
    const pub = await ed.getPublicKeyAsync(seed(4));
    const box = sealToHost("hunter2-secret", pub);
    try {
      openSealed(box, seed(5));
      throw new Error("opened with the wrong key");
    } catch (err) {
      expect((err as Error).message).not.toContain("hunter2");
      expect((err as Error).message).not.toContain(box.sealed.slice(0, 16));
    }
  });

  test("the X25519 form of the base point's ed25519 encoding is RFC 7748's base point u = 9", () => {
    // Ed25519's base point has y = 4/5; the birational map sends it to Curve25519's u = 9.
    const base = ed.Point.BASE.toBytes();
    const u = x25519PublicFromEd25519(base);
    expect(u[0]).toBe(9);
    expect(u.subarray(1).every((b) => b === 0)).toBe(true);
  });
});
