/**
 * The schema of an environment file (config/<env>.yaml).
 *
 * Every message says what is valid; the loader adds the file, the field and the value.
 * Cross-field rules (min <= desired <= max, architecture vs instance type, ...) live in
 * `superRefine` so that all of them are reported together with the field errors.
 */
import { z } from "zod";
import { COLORS, PREDEFINED_STRATEGIES } from "../modules/names";

const REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/;
const AMI_ID = /^ami-[0-9a-f]{8}([0-9a-f]{9})?$/;
const VPC_ID = /^vpc-[0-9a-f]{8}([0-9a-f]{9})?$/;
const SUBNET_ID = /^subnet-[0-9a-f]{8}([0-9a-f]{9})?$/;
const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9]+$/;
const ACM_ARN = /^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[0-9a-f-]{36}$/;
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const MIN_HEALTHY = /^(\d{1,2})%$|^(\d+)$/;

/** `10.0.0.0/16` → true when the prefix and all four octets are in range. */
export function isCidr(value: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(value);
  if (!m) return false;
  const octets = m.slice(1, 5).map(Number);
  return octets.every((o) => o <= 255) && Number(m[5]) <= 32;
}

const cidr = z.string().refine(isCidr, { error: "must be an IPv4 CIDR block such as 203.0.113.0/24" });

const capacity = z
  .strictObject({
    min: z.number().int({ error: "must be a whole number >= 0" }).min(0, { error: "must be >= 0" }),
    desired: z.number().int({ error: "must be a whole number >= 0" }).min(0, { error: "must be >= 0" }),
    max: z.number().int({ error: "must be a whole number >= 1" }).min(1, { error: "must be >= 1" }).max(100, { error: "must be <= 100" }),
  })
  .superRefine((c, ctx) => {
    if (c.min > c.max) ctx.addIssue({ code: "custom", path: ["min"], message: `min (${c.min}) must be <= max (${c.max})` });
    if (c.desired < c.min) ctx.addIssue({ code: "custom", path: ["desired"], message: `desired (${c.desired}) must be >= min (${c.min})` });
    else if (c.desired > c.max) ctx.addIssue({ code: "custom", path: ["desired"], message: `desired (${c.desired}) must be <= max (${c.max})` });
  });

const amiSource = z.union(
  [
    z.strictObject({
      /** The color's AMI comes from SSM parameter /webfleet/<env>/ami/<color>, set by `npm run ami`. */
      parameter: z.strictObject({
        /**
         * Value the parameter is created with, before the first `npm run ami` publishes a baked
         * AMI: an AMI id or `resolve:ssm:<public parameter>`.
         */
        initialValue: z
          .string()
          .refine((v) => AMI_ID.test(v) || /^resolve:ssm:\/[\w./-]+$/.test(v), {
            error: "must be an AMI id (ami-0123456789abcdef0) or resolve:ssm:/<parameter>",
          })
          .optional(),
      }),
    }),
    z.strictObject({
      /** An explicit AMI id, pinned in this file. */
      id: z.string().regex(AMI_ID, { error: "must be an AMI id such as ami-0123456789abcdef0" }),
    }),
  ],
  { error: "must be { parameter: {} } (AMI from SSM, set by `npm run ami`) or { id: ami-... }" },
);

const network = z.discriminatedUnion(
  "mode",
  [
    /** The account's default VPC, as in the tutorial (all its subnets are public). */
    z.strictObject({ mode: z.literal("default-vpc") }),
    /** A dedicated VPC with one public subnet per availability zone. */
    z.strictObject({
      mode: z.literal("dedicated"),
      cidr: cidr.default("10.40.0.0/16"),
      availabilityZones: z
        .number()
        .int({ error: "must be a whole number from 2 to 6" })
        .min(2, { error: "must be at least 2 (the ALB and the ASG need two AZs)" })
        .max(6, { error: "must be at most 6" })
        .default(2),
    }),
    /** An existing VPC and its public subnets, by id (no data source is read). */
    z.strictObject({
      mode: z.literal("existing"),
      vpcId: z.string().regex(VPC_ID, { error: "must be a VPC id such as vpc-0123456789abcdef0" }),
      subnetIds: z
        .array(z.string().regex(SUBNET_ID, { error: "must be a subnet id such as subnet-0123456789abcdef0" }))
        .min(2, { error: "must list at least 2 subnets in different availability zones" }),
    }),
  ],
  { error: "mode must be one of default-vpc, dedicated, existing" },
);

const stateBackend = z.discriminatedUnion(
  "type",
  [
    /** State in cdktf.out/ on this machine: fine for one person trying webfleet out. */
    z.strictObject({ type: z.literal("local") }),
    /** State in S3, shared by the team (see the bootstrap stack). */
    z.strictObject({
      type: z.literal("s3"),
      bucket: z.string().regex(BUCKET, { error: "must be an S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)" }),
      region: z.string().regex(REGION, { error: "must be an AWS region such as eu-west-1" }).optional(),
      keyPrefix: z
        .string()
        .regex(/^[\w.-]+(\/[\w.-]+)*$/, { error: "must be a path such as webfleet (no leading or trailing slash)" })
        .default("webfleet"),
      /** Only for Terraform < 1.10: lock in DynamoDB instead of S3's native lock file. */
      dynamodbTable: z
        .string()
        .regex(/^[\w.-]{3,255}$/, { error: "must be a DynamoDB table name" })
        .optional(),
    }),
  ],
  { error: "type must be one of local, s3" },
);

const strategyKey = z.string().regex(/^(all-at-once|half-at-a-time|one-at-a-time|min-healthy=(\d{1,2}%|\d+))$/, {
  error: `must be one of ${Object.keys(PREDEFINED_STRATEGIES).join(", ")}, or min-healthy=<N>% / min-healthy=<N> listed in deployment.minimumHealthyHosts`,
});

const minimumHealthy = z.union([z.number(), z.string()]).refine(
  (v) => {
    const m = MIN_HEALTHY.exec(String(v));
    if (!m) return false;
    return m[1] !== undefined ? Number(m[1]) >= 1 && Number(m[1]) <= 99 : Number(m[2]) >= 0;
  },
  { error: 'must be a fleet percent from 1% to 99% ("75%") or a host count (2)' },
);

export const environmentSchema = z
  .strictObject({
    region: z.string().regex(REGION, { error: "must be an AWS region such as us-east-1" }),
    network,
    instanceType: z.string().regex(INSTANCE_TYPE, { error: "must be an EC2 instance type such as t3.micro" }).default("t3.micro"),
    architecture: z.enum(["x86_64", "arm64"], { error: "must be x86_64 or arm64" }).default("x86_64"),
    capacity: z.strictObject({ blue: capacity, green: capacity }),
    ami: z.strictObject({ blue: amiSource, green: amiSource }),
    clientCidrs: z.array(cidr).min(1, { error: "must list at least one CIDR (0.0.0.0/0 for the whole internet)" }).default(["0.0.0.0/0"]),
    certificateArn: z.string().regex(ACM_ARN, { error: "must be an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>)" }).optional(),
    loadBalancer: z
      .strictObject({
        deletionProtection: z.boolean({ error: "must be true or false" }).default(false),
        idleTimeoutSeconds: z.number().int().min(1, { error: "must be from 1 to 4000" }).max(4000, { error: "must be from 1 to 4000" }).default(60),
      })
      .prefault({}),
    deployment: z
      .strictObject({
        defaultStrategy: strategyKey.default("one-at-a-time"),
        minimumHealthyHosts: z.array(minimumHealthy).default([]),
        deregistrationDelaySeconds: z.number().int().min(0, { error: "must be from 0 to 3600" }).max(3600, { error: "must be from 0 to 3600" }).default(30),
        notificationEmails: z.array(z.email({ error: "must be an email address" })).default([]),
      })
      .prefault({}),
    stateBackend: stateBackend.prefault({ type: "local" }),
    tags: z
      .record(z.string().regex(/^[\w .:/=+@-]{1,128}$/, { error: "tag keys are 1-128 letters, digits, spaces and _.:/=+-@" }), z.string().max(256))
      .default({}),
  })
  // Cross-field rules. `when` runs them even when other fields failed, so that every error is
  // reported at once; each rule checks that the fields it reads parsed.
  .superRefine(
    (env, ctx) => {
      const desired = COLORS.map((c) => env.capacity?.[c]?.desired);
      if (desired.every((d) => d === 0)) {
        ctx.addIssue({ code: "custom", path: ["capacity"], message: "at least one color needs desired >= 1, or the site has no instances" });
      }
      if (typeof env.instanceType !== "string") return;
      const graviton = /^[a-z]+\d+[a-z]*g[a-z]*\./.test(env.instanceType);
      if (env.architecture === "arm64" && !graviton) {
        ctx.addIssue({
          code: "custom",
          path: ["instanceType"],
          message: `${env.instanceType} is not an arm64 (Graviton) type; use one such as t4g.micro, or architecture x86_64`,
        });
      }
      if (env.architecture === "x86_64" && graviton) {
        ctx.addIssue({
          code: "custom",
          path: ["instanceType"],
          message: `${env.instanceType} is an arm64 (Graviton) type; set architecture: arm64 or use one such as t3.micro`,
        });
      }
      const d = env.deployment?.defaultStrategy;
      const custom = new Set((env.deployment?.minimumHealthyHosts ?? []).map((m) => `min-healthy=${m}`));
      if (typeof d === "string" && d.startsWith("min-healthy=") && !custom.has(d)) {
        ctx.addIssue({
          code: "custom",
          path: ["deployment", "defaultStrategy"],
          message: `${d} is not created by this environment; add ${d.slice("min-healthy=".length)} to deployment.minimumHealthyHosts or use one of ${Object.keys(PREDEFINED_STRATEGIES).join(", ")}`,
        });
      }
    },
    { when: () => true },
  );

/** A validated environment file, defaults applied. */
export type EnvironmentFile = z.output<typeof environmentSchema>;
export type AmiSource = EnvironmentFile["ami"]["blue"];
export type NetworkConfig = EnvironmentFile["network"];
export type StateBackendConfig = EnvironmentFile["stateBackend"];
export type Capacity = EnvironmentFile["capacity"]["blue"];
