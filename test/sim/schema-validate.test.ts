import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { NAMED_FORMATS } from "../../src/sim/pve/schema/named-formats.ts";
import { loadPveSchema, type PropSchema } from "../../src/sim/pve/schema/pve-schema.ts";
import {
  schemaEndpoints,
  UnknownEndpointError,
  validateParams,
  validateReturns,
} from "../../src/sim/pve/schema/validate.ts";

const CONFIG = "/nodes/{node}/lxc/{vmid}/config";
const base = { node: "pve", vmid: "100" };

function errorsOf(
  method: "GET" | "POST" | "PUT" | "DELETE",
  path: string,
  params: Record<string, unknown>,
): Record<string, string> {
  const r = validateParams(method, path, params);
  if (r.ok) throw new Error(`expected errors, got ok: ${JSON.stringify(r.params)}`);
  return r.errors;
}

function paramsOf(
  method: "GET" | "POST" | "PUT" | "DELETE",
  path: string,
  params: Record<string, unknown>,
): Record<string, unknown> {
  const r = validateParams(method, path, params);
  if (!r.ok) throw new Error(`expected ok, got ${JSON.stringify(r.errors)}`);
  return r.params;
}

describe("schema file", () => {
  const file = loadPveSchema();

  test("says where it comes from and holds every simulated endpoint", () => {
    expect(file.source).toBe("pve-docs apidata.js, PVE 9.1");
    expect(Object.keys(file.endpoints)).toHaveLength(44);
    expect(schemaEndpoints()).toContainEqual({ method: "PUT", path: CONFIG });
  });

  test("keeps enums whole (the resize disk enum is rootfs, mp0…mp255)", () => {
    const disk = file.endpoints["PUT /nodes/{node}/lxc/{vmid}/resize"]?.parameters.properties?.disk;
    expect(disk?.enum).toHaveLength(257);
    expect(disk?.enum?.at(-1)).toBe("mp255");
  });

  test("every named format used by the schema has a validator", () => {
    const used = new Set<string>();
    const visit = (p: PropSchema | undefined): void => {
      if (p === undefined) return;
      if (typeof p.format === "string") used.add(p.format.replace(/-(list|opt)$/, ""));
      else if (p.format) for (const sub of Object.values(p.format)) visit(sub);
      for (const sub of Object.values(p.properties ?? {})) visit(sub);
      visit(p.items);
    };
    for (const ep of Object.values(file.endpoints)) visit(ep.parameters);
    const missing = [...used].filter((f) => !NAMED_FORMATS.has(f));
    expect(missing).toEqual([]);
  });
});

describe("validateParams: JSONSchema.pm error texts (docs/proxmox-behaviour.md#api-envelope-and-errors)", () => {
  test("missing required parameter", () => {
    expect(errorsOf("POST", "/nodes/{node}/lxc", { node: "pve", vmid: "100" })).toEqual({
      ostemplate: "property is missing and it is not optional",
    });
  });

  test("JSON null counts as missing", () => {
    expect(errorsOf("GET", CONFIG, { node: "pve", vmid: null })).toEqual({
      vmid: "property is missing and it is not optional",
    });
  });

  test("unknown parameter", () => {
    expect(errorsOf("GET", CONFIG, { ...base, bogus: "1" })).toEqual({
      bogus:
        "property is not defined in schema and the schema does not allow additional properties",
    });
  });

  test("integer type check", () => {
    expect(errorsOf("PUT", CONFIG, { ...base, cores: "abc" })).toEqual({
      cores: "type check ('integer') failed - got 'abc'",
    });
    expect(errorsOf("PUT", CONFIG, { ...base, cores: "1.5" })).toEqual({
      cores: "type check ('integer') failed - got '1.5'",
    });
  });

  test("number type check", () => {
    expect(errorsOf("PUT", CONFIG, { ...base, cpulimit: "lots" })).toEqual({
      cpulimit: "type check ('number') failed - got 'lots'",
    });
  });

  test("minimum and maximum", () => {
    expect(errorsOf("PUT", CONFIG, { ...base, memory: "8" })).toEqual({
      memory: "value must have a minimum value of 16",
    });
    expect(errorsOf("PUT", CONFIG, { ...base, cores: "9000" })).toEqual({
      cores: "value must have a maximum value of 8192",
    });
  });

  test("maxLength and minLength", () => {
    expect(errorsOf("PUT", CONFIG, { ...base, description: "x".repeat(8193) })).toEqual({
      description: "value may only be 8192 characters long",
    });
    expect(
      errorsOf("POST", "/nodes/{node}/lxc", { ...base, ostemplate: "t", password: "abc" }),
    ).toEqual({ password: "value must be at least 5 characters long" });
  });

  test("lengths count characters, not UTF-16 units", () => {
    const ok = validateParams("PUT", CONFIG, { ...base, description: "😀".repeat(8192) });
    expect(ok.ok).toBe(true);
  });

  test("regex pattern", () => {
    expect(
      errorsOf("PUT", "/nodes/{node}/lxc/{vmid}/resize", { ...base, disk: "rootfs", size: "8X" }),
    ).toEqual({ size: "value does not match the regex pattern" });
  });

  test("enumeration lists every value", () => {
    expect(errorsOf("GET", "/cluster/resources", { type: "x" })).toEqual({
      type: "value 'x' does not have a value in the enumeration 'vm, storage, node, sdn'",
    });
  });

  test("named format errors keep Perl's trailing newline", () => {
    expect(errorsOf("GET", CONFIG, { node: "pve", vmid: "99" })).toEqual({
      vmid: "invalid format - value does not look like a valid VM ID\n",
    });
    expect(errorsOf("GET", CONFIG, { node: "-bad-", vmid: "100" })).toEqual({
      node: "invalid format - value does not look like a valid node name\n",
    });
    expect(
      errorsOf("POST", "/nodes/{node}/lxc/{vmid}/snapshot", { ...base, snapname: "1x" }),
    ).toEqual({
      snapname: "invalid format - invalid configuration ID '1x'\n",
    });
    expect(errorsOf("PUT", CONFIG, { ...base, hostname: "bad_name" })).toEqual({
      hostname: "invalid format - value does not look like a valid DNS name\n",
    });
  });

  test("-list formats check every element", () => {
    expect(paramsOf("PUT", CONFIG, { ...base, delete: "mp0,description;net1 tags" }).delete).toBe(
      "mp0,description;net1 tags",
    );
    expect(errorsOf("PUT", CONFIG, { ...base, delete: "mp0,9x" })).toEqual({
      delete: "invalid format - invalid configuration ID '9x'\n",
    });
    expect(errorsOf("PUT", CONFIG, { ...base, tags: "ok;bad tag!" })).toEqual({
      tags: "invalid format - invalid characters in tag\n",
    });
  });

  test("requires", () => {
    expect(
      errorsOf("POST", "/nodes/{node}/lxc", { ...base, ostemplate: "local:vztmpl/x", unique: "1" }),
    ).toEqual({ restore: "missing property - 'unique' requires this property" });
  });

  test("several errors at once, one per parameter", () => {
    const e = errorsOf("PUT", CONFIG, { node: "pve", vmid: "abc", cores: "0", zzz: "" });
    expect(e).toEqual({
      vmid: "type check ('integer') failed - got 'abc'",
      cores: "value must have a minimum value of 1",
      zzz: "property is not defined in schema and the schema does not allow additional properties",
    });
  });

  test("an unknown endpoint is a caller bug", () => {
    expect(() => validateParams("GET", "/nope", {})).toThrow(UnknownEndpointError);
  });
});

describe("validateParams: booleans and coercion", () => {
  test("form booleans are 1/0 only; 'true' fails", () => {
    expect(paramsOf("PUT", CONFIG, { ...base, onboot: "1", protection: "0" })).toMatchObject({
      onboot: 1,
      protection: 0,
    });
    expect(errorsOf("PUT", CONFIG, { ...base, onboot: "true" })).toEqual({
      onboot: "type check ('boolean') failed - got 'true'",
    });
  });

  test("JSON booleans are accepted and become 0/1", () => {
    expect(paramsOf("PUT", CONFIG, { ...base, onboot: true, protection: false })).toMatchObject({
      onboot: 1,
      protection: 0,
    });
  });

  test("JSON values of the wrong kind name the Perl reference type", () => {
    expect(errorsOf("PUT", CONFIG, { ...base, cores: true })).toEqual({
      cores: "type check ('integer') failed - got JSON::PP::Boolean",
    });
    expect(errorsOf("PUT", CONFIG, { ...base, hostname: { a: 1 } })).toEqual({
      hostname: "type check ('string') failed - got HASH",
    });
  });

  test("integers and numbers become numbers, path params included", () => {
    expect(
      paramsOf("PUT", CONFIG, { ...base, cores: "+4", cpulimit: "1.5", memory: 1024 }),
    ).toEqual({
      node: "pve",
      vmid: 100,
      cores: 4,
      cpulimit: 1.5,
      memory: 1024,
    });
  });

  test("a JSON number for a string parameter becomes its string", () => {
    expect(paramsOf("GET", CONFIG, { ...base, snapshot: "s1" }).snapshot).toBe("s1");
    expect(
      paramsOf("POST", "/nodes/{node}/lxc/{vmid}/snapshot", {
        ...base,
        snapname: "s1",
        description: 5,
      }).description,
    ).toBe("5");
  });

  test("a scalar for an array parameter is wrapped; an array for a -list string is joined", () => {
    expect(paramsOf("POST", "/nodes/{node}/vzdump", { "exclude-path": "/tmp" })).toEqual({
      "exclude-path": ["/tmp"],
    });
    expect(paramsOf("PUT", CONFIG, { ...base, delete: ["mp0", "net1"] }).delete).toBe("mp0,net1");
  });
});

describe("validateParams: indexed properties", () => {
  test("net0…net31, mp0…mp255, unused0…, dev0… match their [n] schema", () => {
    const p = paramsOf("PUT", CONFIG, {
      ...base,
      net0: "name=eth0,bridge=vmbr0,ip=dhcp",
      net31: "name=eth31,bridge=vmbr0",
      mp255: "local-lvm:8,mp=/srv",
      unused3: "local-lvm:vm-100-disk-3",
      dev0: "/dev/ttyUSB0,mode=0660",
    });
    expect(p.net31).toBe("name=eth31,bridge=vmbr0");
  });

  test("beyond the count, or with a leading zero, the key is unknown", () => {
    const e = errorsOf("PUT", CONFIG, { ...base, net32: "name=eth0", mp256: "x", net01: "name=a" });
    const msg =
      "property is not defined in schema and the schema does not allow additional properties";
    expect(e).toEqual({ net32: msg, mp256: msg, net01: msg });
  });
});

describe("validateParams: property strings", () => {
  test("features nesting=1,keyctl=1 passes and stays a string", () => {
    expect(paramsOf("PUT", CONFIG, { ...base, features: "nesting=1,keyctl=1" }).features).toBe(
      "nesting=1,keyctl=1",
    );
  });

  test("property-string booleans take on/yes/true like parse_boolean", () => {
    expect(validateParams("PUT", CONFIG, { ...base, features: "nesting=yes,fuse=off" }).ok).toBe(
      true,
    );
  });

  test("an unknown key", () => {
    expect(errorsOf("PUT", CONFIG, { ...base, features: "nesting=1,docker=1" })).toEqual({
      features: "invalid format - invalid key in comma-separated list property: docker\n",
    });
  });

  test("a bad sub-value lists the sub-error under param.key", () => {
    expect(errorsOf("PUT", CONFIG, { ...base, features: "nesting=maybe" })).toEqual({
      features:
        "invalid format - format error\nfeatures.nesting: type check ('boolean') failed - got 'maybe'\n",
    });
  });

  test("a required sub-key (net name) is missing", () => {
    expect(errorsOf("PUT", CONFIG, { ...base, net0: "bridge=vmbr0" })).toEqual({
      net0: "invalid format - format error\nnet0.name: property is missing and it is not optional\n",
    });
  });

  test("sub-key named formats and ranges", () => {
    expect(
      errorsOf("PUT", CONFIG, { ...base, net0: "name=eth0,hwaddr=01:00:00:00:00:00" }),
    ).toEqual({
      net0: "invalid format - format error\nnet0.hwaddr: invalid format - value does not look like a valid unicast MAC address\n\n",
    });
    expect(errorsOf("PUT", CONFIG, { ...base, net0: "name=eth0,tag=5000" })).toEqual({
      net0: "invalid format - format error\nnet0.tag: value must have a maximum value of 4094\n",
    });
  });

  test("default key: a bare first value is the volume", () => {
    expect(validateParams("PUT", CONFIG, { ...base, rootfs: "local-lvm:8,size=8G" }).ok).toBe(true);
    expect(errorsOf("PUT", CONFIG, { ...base, rootfs: "local-lvm:8,other" })).toEqual({
      rootfs: "invalid format - duplicate key in comma-separated list property: volume\n",
    });
  });

  test("a key without a value, and a duplicate key", () => {
    expect(errorsOf("PUT", CONFIG, { ...base, features: "nesting=" })).toEqual({
      features: "invalid format - missing key in comma-separated list property\n",
    });
    expect(errorsOf("PUT", CONFIG, { ...base, features: "nesting=1,nesting=0" })).toEqual({
      features: "invalid format - duplicate key in comma-separated list property: nesting\n",
    });
  });

  test("storage update formats (pve-storage Plugin.pm)", () => {
    const S = "/storage/{storage}";
    expect(
      validateParams("PUT", S, { storage: "nas", server: "10.0.0.2", options: "vers=4" }).ok,
    ).toBe(true);
    expect(errorsOf("PUT", S, { storage: "nas", server: "bad host!", options: "a b" })).toEqual({
      server: "invalid format - value does not look like a valid server name or IP address\n",
      options: "invalid format - invalid options 'a b'\n",
    });
  });

  test("named hash formats (vzdump prune-backups)", () => {
    expect(
      validateParams("POST", "/nodes/{node}/vzdump", { "prune-backups": "keep-last=3" }).ok,
    ).toBe(true);
    // keep-* counts start at 0 (pve-storage Plugin.pm `%prune_option`); 0 everywhere is keep-all.
    expect(
      validateParams("POST", "/nodes/{node}/vzdump", { "prune-backups": "keep-last=0" }).ok,
    ).toBe(true);
    expect(errorsOf("POST", "/nodes/{node}/vzdump", { "prune-backups": "keep-last=-1" })).toEqual({
      "prune-backups":
        "invalid format - format error\nprune-backups.keep-last: value must have a minimum value of 0\n",
    });
    // validate_prune_backups, the format's verify sub (docs/proxmox-behaviour.md#vzdump-remove).
    expect(
      errorsOf("POST", "/nodes/{node}/vzdump", { "prune-backups": "keep-all=1,keep-last=2" }),
    ).toEqual({
      "prune-backups": "invalid format - keep-all cannot be set together with other options.\n",
    });
    expect(
      validateParams("POST", "/nodes/{node}/vzdump", { "prune-backups": "keep-all=1,keep-last=0" })
        .ok,
    ).toBe(true);
  });
});

describe("validateReturns", () => {
  test("accepts the PVE wire quirks (docs/proxmox-behaviour.md#json-type-quirks): nextid as a string, booleans as 0/1", () => {
    expect(validateReturns("GET", "/cluster/nextid", "100")).toEqual([]);
    expect(
      validateReturns("GET", "/cluster/resources", [
        { id: "storage/pve/local", type: "storage", shared: 0 },
      ]),
    ).toEqual([]);
  });

  test("reports missing required keys, bad enums and wrong types", () => {
    const errs = validateReturns("GET", "/nodes/{node}/lxc/{vmid}/status/current", {
      status: "paused",
      cpu: "fast",
      ha: { managed: 0 },
    });
    expect(errs).toContain("data.vmid: property is missing and it is not optional");
    expect(errs).toContain(
      "data.status: value 'paused' does not have a value in the enumeration 'stopped, running'",
    );
    expect(errs).toContain("data.cpu: expected number, got 'fast'");
  });

  test("allows extra keys unless the schema forbids them; indexed config keys match", () => {
    expect(
      validateReturns("GET", CONFIG, {
        digest: "abc",
        net0: "name=eth0",
        pid: 5,
        lxc: [["a", "b"]],
      }),
    ).toEqual([]);
  });

  test("a PUT config returns null", () => {
    expect(validateReturns("PUT", CONFIG, null)).toEqual([]);
  });
});

describe("validateParams never throws on junk", () => {
  const junk = fc.oneof(
    fc.string(),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.oneof(fc.string(), fc.integer())),
    fc.dictionary(fc.string(), fc.string()),
    fc.stringMatching(/^[a-z_]{1,8}=[a-z0-9:,;=./ -]{0,20}(,[a-z]{1,6}=[^,]{0,6}){0,3}$/),
  );
  const keys = fc.oneof(
    fc.constantFrom(
      "node",
      "vmid",
      "net0",
      "mp3",
      "features",
      "rootfs",
      "delete",
      "tags",
      "cores",
      "onboot",
      "prune-backups",
      "exclude-path",
      "size",
      "upid",
      "__proto__",
      "constructor",
    ),
    fc.string(),
  );
  const endpoints = schemaEndpoints();

  test("random parameters only produce results, never exceptions", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: endpoints.length - 1 }),
        fc.dictionary(keys, junk),
        (i, params) => {
          const ep = endpoints[i] as (typeof endpoints)[number];
          const r = validateParams(ep.method, ep.path, params);
          if (!r.ok) {
            for (const msg of Object.values(r.errors)) expect(typeof msg).toBe("string");
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  test("validateReturns never throws either", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: endpoints.length - 1 }), fc.anything(), (i, data) => {
        const ep = endpoints[i] as (typeof endpoints)[number];
        expect(Array.isArray(validateReturns(ep.method, ep.path, data))).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});
