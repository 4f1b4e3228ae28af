export { BcryptPbkdfError, bcryptPbkdf } from "./bcrypt-pbkdf.ts";
export { CanonicalJsonError, canonicalJson } from "./canonical-json.ts";
export { createEd25519, type Ed25519, type Ed25519Mode } from "./ed25519.ts";
export {
  type DecodedEnvelope,
  decodeEnvelope,
  type Envelope,
  envelopeSchema,
  type GuestRef,
  type OpPayload,
  opPayloadSchema,
  parsePayload,
} from "./envelope.ts";
export {
  type Ed25519PrivateKey,
  isEncryptedOpenSshPrivateKey,
  PrivateKeyError,
  type PrivateKeyErrorReason,
  parseOpenSshPrivateKey,
} from "./openssh-private-key.ts";
export {
  HOST_OP_NAMES,
  isGuestOp,
  isOpName,
  OP_NAMES,
  type OpName,
  opNameSchema,
} from "./operations.ts";
export { REJECTION_REASONS, type RejectionReason, SignatureRejection } from "./rejection.ts";
export { roleAllows, SIGNER_ROLES, type SignerRole } from "./roles.ts";
export { buildPayload, newNonce, type OpRequest, signEnvelope, signPayloadBytes } from "./sign.ts";
export {
  parseSigners,
  type Signer,
  type SignerEntry,
  SignersConfigError,
  signerEntrySchema,
  signersSchema,
  toSigners,
} from "./signers.ts";
export {
  type Ed25519PublicKey,
  formatSshPublicKey,
  parseSshPublicKey,
  SshKeyError,
  sshFingerprint,
} from "./ssh-public-key.ts";
export {
  OP_NAMESPACE,
  parseArmoredSshsig,
  type Sshsig,
  SshsigFormatError,
  signSshsig,
  verifySshsig,
} from "./sshsig.ts";
export {
  DEFAULT_MAX_TTL_SECONDS,
  DEFAULT_SKEW_SECONDS,
  type ExpectedAction,
  inspectEnvelope,
  type Rejected,
  type Verified,
  type VerifyContext,
  type VerifyResult,
  verifyEnvelope,
} from "./verify.ts";
