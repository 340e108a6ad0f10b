// Security contexts spec.template may set on the inference pod and its model
// server container, in Kubernetes' shapes (core/v1); the operator merges them
// over its own defaults (core/pod-template.ts).
import { z } from "zod";
import { withCel } from "./common.ts";

const SECCOMP_LOCALHOST = "localhostProfile goes with type Localhost, and type Localhost needs it";
const seccompProfileSchema = withCel(
  z
    .object({
      type: z
        .enum(["RuntimeDefault", "Localhost", "Unconfined"])
        .describe("RuntimeDefault, Localhost or Unconfined."),
      localhostProfile: z.string().max(4096).optional().describe("With type Localhost: the profile's file."),
    })
    .refine((p) => (p.type === "Localhost") === (p.localhostProfile !== undefined), {
      message: SECCOMP_LOCALHOST,
    })
    .describe("The seccomp profile."),
  [{ rule: "(self.type == 'Localhost') == has(self.localhostProfile)", message: SECCOMP_LOCALHOST }],
);

const id = (what: string) => z.number().int().min(0).max(2147483647).optional().describe(what);

const runAsFields = {
  runAsUser: id("UID the processes run as."),
  runAsGroup: id("GID the processes run as."),
  runAsNonRoot: z.boolean().optional().describe("Refuse to start a container that would run as root."),
  seccompProfile: seccompProfileSchema.optional(),
};

export const podSecurityContextSchema = z
  .object({
    ...runAsFields,
    fsGroup: id("Group that owns the volumes, added to every container's groups."),
    fsGroupChangePolicy: z.enum(["OnRootMismatch", "Always"]).optional().describe("When to chown volumes."),
    supplementalGroups: z
      .array(z.number().int().min(0).max(2147483647))
      .max(32)
      .optional()
      .describe("More GIDs."),
  })
  .describe(
    "Pod security context of the inference pods, merged over the operator's (seccompProfile RuntimeDefault). " +
      "The operator's own containers keep their non-root user.",
  );
export type PodSecurityContext = z.infer<typeof podSecurityContextSchema>;

export const containerSecurityContextSchema = z
  .object({
    ...runAsFields,
    readOnlyRootFilesystem: z
      .boolean()
      .optional()
      .describe("Mount the container's root filesystem read-only."),
    allowPrivilegeEscalation: z.boolean().optional().describe("Default false."),
    capabilities: z
      .object({
        add: z
          .array(z.string().min(1).max(64))
          .max(32)
          .optional()
          .describe('Capabilities to add, e.g. "SYS_NICE".'),
        drop: z
          .array(z.string().min(1).max(64))
          .max(32)
          .optional()
          .describe('Capabilities to drop; default ["ALL"].'),
      })
      .optional()
      .describe("Linux capabilities."),
  })
  .describe(
    "Security context of the model server container, merged over the operator's (no privilege escalation, " +
      "every capability dropped). Privileged containers are not offered: GPUs come through the device " +
      "plugin's resources (nvidia.com/gpu), which need no privilege.",
  );
export type ContainerSecurityContext = z.infer<typeof containerSecurityContextSchema>;
