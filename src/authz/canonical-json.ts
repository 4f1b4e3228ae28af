// Signature binding compares parameter sets by their canonical JSON; one implementation serves
// the audit hash chain and this comparison.
export { CanonicalJsonError, canonicalJson } from "../util/canonical-json.ts";
