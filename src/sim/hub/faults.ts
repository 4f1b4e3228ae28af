/** What the simulated hub does wrong on demand; tests and the demo flip these at run time. */
export interface HubFaults {
  /** Answer every request with this status (e.g. 503) and an error body. */
  status?: number;
  /** Delay every answer by this many ms. */
  delayMs?: number;
  /** Serve a payload that breaks the contract: not JSON, or JSON of the wrong shape. */
  malformedDesired?: "json" | "schema";
  malformedJobs?: "json" | "schema";
  malformedEnroll?: boolean;
  /** Burn the code, then answer 503: the enrollment answer is lost on the way. */
  loseEnrollAnswer?: boolean;
}
