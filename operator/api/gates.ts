// Promotion gates of a ModelDeployment: what a ModelVersion must show before
// it may start rolling out here. They read only the ModelVersion (its stage
// and offline metrics) and the version serving now, so they are decided
// before any pod starts. The grammar of a metric gate is defined once here:
// the CRD's CEL rule and the operator's parser (core/gates.ts) use it.
import { z } from "zod";
import { withCel } from "./common.ts";

export const MODEL_STAGES = ["None", "Staging", "Production", "Archived"] as const;

const NUMBER = String.raw`-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?`;
const METRIC = "[A-Za-z_][A-Za-z0-9_.:/-]*";
/**
 * `<metric> <op> <number>` or `<metric> <op> stable [(+|-|*) <number>]`, with
 * op one of >=, <=, >, <. Groups: 1 metric, 2 op, 3 "stable" (relative),
 * 4 its operator, 5 its operand; 6 the absolute bound.
 */
export const GATE_PATTERN = String.raw`^\s*(${METRIC})\s*(>=|<=|>|<)\s*(?:(stable)(?:\s*([-+*])\s*(${NUMBER}))?|(${NUMBER}))\s*$`;

const GATE_HELP =
  "a metric gate reads '<metric> <op> <number>' or '<metric> <op> stable [+|-|* <number>]' with op one of " +
  ">=, <=, >, <; e.g. 'accuracy >= 0.9', 'accuracy >= stable - 0.01', 'log_loss <= stable * 1.05'";

const metricGateSchema = withCel(
  z
    .string()
    .max(256)
    .refine((s) => new RegExp(GATE_PATTERN).test(s), { message: GATE_HELP })
    .describe(
      "A condition on the candidate's spec.metrics: absolute ('accuracy >= 0.9') or relative to the " +
        "version serving now ('accuracy >= stable - 0.01', 'log_loss <= stable * 1.05').",
    ),
  [{ rule: `self.matches(r'${GATE_PATTERN}')`, message: GATE_HELP }],
);

export const gatesSchema = z
  .object({
    stages: z
      .array(z.enum(MODEL_STAGES))
      .min(1)
      .max(MODEL_STAGES.length)
      .optional()
      .describe(
        "ModelVersion stages allowed to serve here, e.g. [Production]. A version in another stage waits; " +
          "it starts rolling out by itself when its stage changes.",
      ),
    metrics: z
      .array(metricGateSchema)
      .max(16)
      .optional()
      .describe(
        "Conditions on the candidate's offline metrics (spec.metrics). Relative ones compare with the " +
          "version serving now and pass when nothing serves yet. A missing metric fails the gate.",
      ),
  })
  .describe(
    "Promotion gates: a new spec.modelVersion that fails one never starts rolling out; what serves keeps " +
      "serving, the GatesPassed condition and an Event name the gate and both values.",
  );
export type Gates = z.infer<typeof gatesSchema>;
