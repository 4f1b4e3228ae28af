// One desired-state document, whether it comes from the hub or a file: the reconciler's schema
// is the definition (docs/desired-state.md).
export {
  type DesiredGuest,
  type DesiredState,
  desiredGuestSchema,
  desiredStateSchema,
} from "../reconcile/desired-schema.ts";
