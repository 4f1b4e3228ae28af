import { z } from "zod";
import {
  ackSchema,
  auditRowSchema,
  enrollRequestSchema,
  enrollResponseSchema,
  HUB_PATHS,
  HUB_PROTOCOL_VERSION,
  hubDesiredSchema,
  hubErrorSchema,
  hubJobSchema,
  jobResultBatchSchema,
  jobResultSchema,
  reportBatchSchema,
  signedEnvelopeSchema,
  signerSchema,
  statusReportSchema,
} from "./protocol.ts";
import { MAX_CLOCK_SKEW_S, SIGNATURE_HEADERS, SIGNING_SCHEME } from "./request-signing.ts";

const SCHEMAS = {
  EnrollRequest: enrollRequestSchema,
  EnrollResponse: enrollResponseSchema,
  Signer: signerSchema,
  DesiredState: hubDesiredSchema,
  Job: hubJobSchema,
  // The list is validated job by job (one bad job does not hide the others); this is its shape.
  JobList: z.strictObject({ jobs: z.array(hubJobSchema) }),
  SignedEnvelope: signedEnvelopeSchema,
  JobResult: jobResultSchema,
  JobResultBatch: jobResultBatchSchema,
  StatusReport: statusReportSchema,
  AuditRow: auditRowSchema,
  ReportBatch: reportBatchSchema,
  Ack: ackSchema,
  Error: hubErrorSchema,
} as const;

const ref = (name: keyof typeof SCHEMAS) => ({ $ref: `#/components/schemas/${name}` });
const json = (name: keyof typeof SCHEMAS) => ({ "application/json": { schema: ref(name) } });
const errors = {
  "401": {
    description: "credential unknown, signature invalid, clock skew or nonce replayed",
    content: json("Error"),
  },
  "5XX": { description: "hub trouble; the agent backs off and retries", content: json("Error") },
};
const signed = [{ hostCredential: [], hostSignature: [] }];
const hostParam = { name: "host", in: "path", required: true, schema: { type: "string" } };
const etagHeader = {
  ETag: { schema: { type: "string" }, description: "send back as If-None-Match" },
};
const ifNoneMatch = {
  name: "If-None-Match",
  in: "header",
  required: false,
  schema: { type: "string" },
};

/**
 * The protocol as an OpenAPI 3.1 document, generated from the zod schemas the agent validates
 * with, so the committed contract and the code cannot drift (test/hub/contract.test.ts).
 */
export function buildHubContract(): Record<string, unknown> {
  const schemas: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(SCHEMAS)) {
    const js = z.toJSONSchema(schema, {
      target: "draft-2020-12",
      io: "input",
      unrepresentable: "any",
    }) as Record<string, unknown>;
    delete js.$schema;
    schemas[name] = js;
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "felhom hub protocol (agent side)",
      version: String(HUB_PROTOCOL_VERSION),
      description:
        "Box-initiated: the agent calls the hub, never the reverse. See docs/hub-protocol.md for " +
        `the request signing scheme (${SIGNING_SCHEME}), ETag polling and delivery guarantees.`,
    },
    "x-felhom-request-signing": {
      scheme: SIGNING_SCHEME,
      headers: SIGNATURE_HEADERS,
      signed_lines: [
        "scheme",
        "METHOD",
        "path?query",
        "host id",
        "unix seconds",
        "nonce",
        "sha256 hex of body",
      ],
      algorithm: "ed25519 (RFC 8032), signature base64 in x-felhom-signature",
      max_clock_skew_s: MAX_CLOCK_SKEW_S,
    },
    paths: {
      [HUB_PATHS.enroll]: {
        post: {
          summary: "Trade a one-time retrieval code for durable identity",
          description:
            "Signed with the key in host_public_key, host id 'enroll' (proof of possession). No bearer.",
          requestBody: { required: true, content: json("EnrollRequest") },
          responses: {
            "200": { description: "enrolled; the code is burned", content: json("EnrollResponse") },
            "404": { description: "code_unknown", content: json("Error") },
            "410": { description: "code_used or code_expired", content: json("Error") },
            ...errors,
          },
        },
      },
      [HUB_PATHS.desired]: {
        get: {
          summary: "This host's desired state",
          parameters: [hostParam, ifNoneMatch],
          security: signed,
          responses: {
            "200": {
              description: "the document",
              headers: etagHeader,
              content: json("DesiredState"),
            },
            "304": { description: "unchanged since If-None-Match" },
            "404": {
              description: "no desired state assigned yet (the agent changes nothing)",
              content: json("Error"),
            },
            ...errors,
          },
        },
      },
      [HUB_PATHS.jobs]: {
        get: {
          summary: "Open jobs for this host",
          parameters: [hostParam, ifNoneMatch],
          security: signed,
          responses: {
            "200": { description: "open jobs", headers: etagHeader, content: json("JobList") },
            "304": { description: "unchanged since If-None-Match" },
            ...errors,
          },
        },
      },
      [HUB_PATHS.reports]: {
        post: {
          summary: "Status reports and audit rows, in order",
          parameters: [hostParam],
          security: signed,
          requestBody: { required: true, content: json("ReportBatch") },
          responses: {
            "200": { description: "recorded (duplicates by seq ignored)", content: json("Ack") },
            ...errors,
          },
        },
      },
      [HUB_PATHS.jobResults]: {
        post: {
          summary: "Job outcomes",
          parameters: [hostParam],
          security: signed,
          requestBody: { required: true, content: json("JobResultBatch") },
          responses: {
            "200": {
              description: "recorded (each job/state pair once; duplicates acknowledged)",
              content: json("Ack"),
            },
            ...errors,
          },
        },
      },
      [HUB_PATHS.artifact]: {
        get: {
          summary: "An agent build a signed agent.update names",
          description:
            "The raw bytes. Trusted by the SHA-256 and size in the operator's signed params, not by the hub; the agent reads at most the signed size (docs/self-update.md).",
          parameters: [
            hostParam,
            { name: "version", in: "path", required: true, schema: { type: "string" } },
            {
              name: "target",
              in: "path",
              required: true,
              schema: { type: "string", enum: ["x64", "x64-baseline"] },
            },
          ],
          security: signed,
          responses: {
            "200": {
              description: "the artifact",
              content: {
                "application/octet-stream": { schema: { type: "string", format: "binary" } },
              },
            },
            "404": { description: "no such artifact", content: json("Error") },
            ...errors,
          },
        },
      },
    },
    components: {
      securitySchemes: {
        hostCredential: {
          type: "http",
          scheme: "bearer",
          description: "the credential issued at enrollment",
        },
        hostSignature: {
          type: "apiKey",
          in: "header",
          name: SIGNATURE_HEADERS.signature,
          description: "ed25519 request signature; see x-felhom-request-signing",
        },
      },
      schemas,
    },
  };
}

export function hubContractText(): string {
  return `${JSON.stringify(buildHubContract(), null, 2)}\n`;
}
