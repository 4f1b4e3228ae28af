export { requestActor, signerActor, targetOf } from "./actor.ts";
export { type Classification, type ClassifiedAction, classify, type Verdict } from "./classify.ts";
export {
  type GateConfig,
  gateSection,
  gateSections,
  hostIdSection,
  signersSection,
} from "./config-section.ts";
export {
  GATE_AUDIT_ACTIONS,
  type GateCallContext,
  type GateOptions,
  GateRefusalError,
  type GateStore,
  type GateVerdict,
  type PendingErrorKind,
  PendingOperationError,
  type ReleaseResult,
  ReversibilityGate,
  type SignedApproval,
} from "./gate.ts";
export { BENIGN_DELETE_KEYS, GROW_SIZE, VOLUME_KEY } from "./param-rules.ts";
export {
  type AgentOrigin,
  type AgentProvenance,
  agentProvenance,
  agentProvenanceSchema,
  type CreatedObject,
  PROVENANCE_LOOKBACK,
  PROVENANCE_VERSION,
  type ProvenanceFacts,
  type ProvenanceJournal,
  provenanceFacts,
} from "./provenance.ts";
