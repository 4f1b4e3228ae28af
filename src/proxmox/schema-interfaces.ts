import { z } from "zod";

/** One address inside a CT's network namespace (docs/proxmox-behaviour.md#lxc-interfaces). */
export interface GuestAddress {
  family: "inet" | "inet6";
  address: string;
  prefix: number;
}

export interface GuestInterface {
  name: string;
  mac?: string;
  addresses: GuestAddress[];
}

const addressSchema = z.object({
  "ip-address-type": z.enum(["inet", "inet6"]),
  "ip-address": z.string().min(1).max(64),
  prefix: z.coerce.number().int().min(0).max(128),
});

const interfaceSchema = z.object({
  name: z.string().min(1).max(64),
  "hardware-address": z.string().max(64).optional(),
  hwaddr: z.string().max(64).optional(),
  "ip-addresses": z.array(addressSchema).max(256).optional(),
});

/**
 * `GET …/lxc/{vmid}/interfaces`: null when the CT is not running (PVE answers `null`, not an
 * error), else each interface with its addresses (docs/proxmox-behaviour.md#lxc-interfaces).
 */
export const guestInterfacesSchema = z
  .array(interfaceSchema)
  .max(256)
  .nullable()
  .transform((list): GuestInterface[] | null =>
    list === null
      ? null
      : list.map((i) => ({
          name: i.name,
          ...((i["hardware-address"] ?? i.hwaddr)
            ? { mac: i["hardware-address"] ?? i.hwaddr }
            : {}),
          addresses: (i["ip-addresses"] ?? []).map((a) => ({
            family: a["ip-address-type"],
            address: a["ip-address"],
            prefix: a.prefix,
          })),
        })),
  );
