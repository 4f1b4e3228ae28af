/**
 * The SSH wire encoding (RFC 4251 §5) as used by SSHSIG blobs, public key blobs and OpenSSH
 * private key files: big-endian uint32 and length-prefixed byte strings.
 */

/** A blob ended early or carried a length that does not fit. */
export class SshWireError extends Error {
  override readonly name = "SshWireError";
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

export class SshReader {
  #pos = 0;
  readonly #view: DataView;

  constructor(readonly bytes: Uint8Array) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.bytes.length - this.#pos;
  }

  raw(length: number, what: string): Uint8Array {
    if (length < 0 || length > this.remaining) {
      throw new SshWireError(
        `${what}: needs ${length} bytes, ${this.remaining} left at offset ${this.#pos}`,
        this.#pos,
      );
    }
    const out = this.bytes.subarray(this.#pos, this.#pos + length);
    this.#pos += length;
    return out;
  }

  uint32(what: string): number {
    if (this.remaining < 4) {
      throw new SshWireError(`${what}: truncated uint32 at offset ${this.#pos}`, this.#pos);
    }
    const v = this.#view.getUint32(this.#pos);
    this.#pos += 4;
    return v;
  }

  string(what: string): Uint8Array {
    const length = this.uint32(`${what} length`);
    return this.raw(length, what);
  }

  /** A string that must be printable ASCII (algorithm names, namespaces). */
  text(what: string): string {
    const bytes = this.string(what);
    for (const b of bytes) {
      if (b < 0x20 || b > 0x7e) {
        throw new SshWireError(`${what}: not printable ASCII`, this.#pos);
      }
    }
    return new TextDecoder().decode(bytes);
  }

  /** Trailing bytes mean the blob is not what it claims to be. */
  end(what: string): void {
    if (this.remaining !== 0) {
      throw new SshWireError(`${what}: ${this.remaining} unexpected trailing bytes`, this.#pos);
    }
  }
}

export class SshWriter {
  readonly #parts: Uint8Array[] = [];
  #length = 0;

  raw(bytes: Uint8Array): this {
    this.#parts.push(bytes);
    this.#length += bytes.length;
    return this;
  }

  uint32(value: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, value);
    return this.raw(b);
  }

  string(value: Uint8Array | string): this {
    const bytes = typeof value === "string" ? new TextEncoder().encode(value) : value;
    return this.uint32(bytes.length).raw(bytes);
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.#length);
    let at = 0;
    for (const p of this.#parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}
