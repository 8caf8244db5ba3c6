/**
 * The schema of an environment file (config/<env>.yaml).
 *
 * Every message says what is valid; the loader adds the file, the field and the value.
 * Cross-field rules (min <= desired <= max, architecture vs instance type, ...) live in
 * `superRefine` so that all of them are reported together with the field errors.
 */
import { z } from "zod";
import { PREDEFINED_STRATEGIES, parseStrategy, STRATEGY_USAGE } from "../modules/names";
import { AWS_REGIONS, PARTITION, regionProblem } from "./regions";

/** Exactly the regions of config/regions.ts, for a yes or no; {@link awsRegion} also says why not. */
export const REGION = new RegExp(`^(?:${AWS_REGIONS.join("|")})$`);
const AMI_ID = /^ami-[0-9a-f]{8}([0-9a-f]{9})?$/;
const VPC_ID = /^vpc-[0-9a-f]{8}([0-9a-f]{9})?$/;
/** A subnet id (also the form of `npm run ami -- --subnet-id`). */
export const SUBNET_ID = /^subnet-[0-9a-f]{8}([0-9a-f]{9})?$/;
/**
 * `<family>.<size>`: t3.micro, m7g.2xlarge, c7i-flex.large, u-6tb1.112xlarge, i7ie.metal-48xl.
 * Every family has a generation digit; the sizes are EC2's.
 */
const INSTANCE_TYPE = /^(?=[a-z-]*\d)[a-z][a-z0-9]*(?:-[a-z0-9]+)*\.(?:nano|micro|small|medium|large|(?:[1-9]\d*)?xlarge|metal(?:-\d+xl)?)$/;
/** arm64 families: Graviton (a `g` after the generation: t4g, c6gn, x2gd, g5g, im4gn) and the first one, a1. */
const ARM64_FAMILY = /^(?:a1|[a-z]+\d+[a-z]*g[a-z]*)\./;
/** Mac families run macOS on Dedicated Hosts only. */
const MAC_FAMILY = /^mac\d/;
/** arn:<partition>:acm:<region>:<account>:certificate/<uuid> */
const ACM_ARN = /^arn:([a-z-]+):acm:([a-z0-9-]+):\d{12}:certificate\/[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}$/;
const MIN_HEALTHY = /^(\d{1,2})%$|^(\d+)$/;

/** An IPv4 block, parsed (`10.0.0.0/16`); undefined when it is not one. Leading zeros are refused, as Go's (Terraform's) parser does. */
export function parseCidr(value: string): { readonly address: number; readonly prefix: number } | undefined {
  const octet = "(0|[1-9]\\d{0,2})";
  const m = new RegExp(`^${octet}\\.${octet}\\.${octet}\\.${octet}/(0|[1-9]\\d?)$`).exec(value);
  if (!m) return undefined;
  const octets = m.slice(1, 5).map(Number);
  const prefix = Number(m[5]);
  if (octets.some((o) => o > 255) || prefix > 32) return undefined;
  return { address: octets.reduce((a, o) => a * 256 + o, 0), prefix };
}

/** `10.0.0.0/16` → true when the prefix and all four octets are in range. */
export function isCidr(value: string): boolean {
  return parseCidr(value) !== undefined;
}

/** The block's network address (host bits cleared): `10.0.0.1/8` → `10.0.0.0/8`. */
export function networkOf(value: string): string | undefined {
  const c = parseCidr(value);
  if (!c) return undefined;
  const network = c.address - (c.address % 2 ** (32 - c.prefix));
  return `${[24, 16, 8, 0].map((shift) => Math.floor(network / 2 ** shift) % 256).join(".")}/${c.prefix}`;
}

const CIDR_FORM = "must be an IPv4 CIDR block such as 203.0.113.0/24";
const cidr = z.string({ error: CIDR_FORM }).superRefine((value, ctx) => {
  const network = networkOf(value);
  if (network === undefined) ctx.addIssue({ code: "custom", message: CIDR_FORM });
  else if (network !== value) {
    ctx.addIssue({ code: "custom", message: `has host bits set: did you mean ${network}? (AWS and Terraform take a block by its network address)` });
  }
});

/**
 * An issue on each entry of `field` that repeats an earlier one, saying `why` that matters;
 * `sameAs` (and its `note`) say when two entries are the same.
 */
function refuseRepeats<T>(field: string, why: string, same: { sameAs: (v: T) => string; note: string } = { sameAs: String, note: "" }) {
  return (list: readonly T[], ctx: z.RefinementCtx) => {
    const first = new Map<string, number>();
    list.forEach((v, i) => {
      const key = same.sameAs(v);
      const j = first.get(key);
      if (j === undefined) first.set(key, i);
      else ctx.addIssue({ code: "custom", path: [i], message: `${String(v)} is listed twice (also ${field}[${j}]${same.note}); ${why}` });
    });
  };
}

/** An AWS region webfleet supports (config/regions.ts); the message says why another is not. */
export const awsRegion = z.string({ error: "must be an AWS region such as us-east-1" }).superRefine((region, ctx) => {
  const problem = regionProblem(region);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

/**
 * A dedicated VPC is carved into one public subnet per availability zone with
 * `cidrsubnet(vpc, DEDICATED_SUBNET_NEWBITS, i)` (modules/network.ts): a /16 gives /20s.
 */
export const DEDICATED_SUBNET_NEWBITS = 4;
/** AWS's VPC and subnet sizes. */
const AWS_BLOCK_PREFIXES = { min: 16, max: 28 } as const;
/** The ELB docs ask for at least a /27 per load balancer subnet (it keeps 8 addresses free to scale). */
const LOAD_BALANCER_SUBNET_MAX_PREFIX = 27;

/** What is wrong with carving `availabilityZones` subnets, `newbits` longer, out of a /`prefix` VPC block. */
export function dedicatedNetworkProblems(
  prefix: number,
  availabilityZones: number | undefined,
  newbits = DEDICATED_SUBNET_NEWBITS,
): Array<{ field: "cidr" | "availabilityZones"; message: string }> {
  const largestVpc = LOAD_BALANCER_SUBNET_MAX_PREFIX - newbits;
  const use = `use a block from /${AWS_BLOCK_PREFIXES.min} to /${largestVpc}`;
  const subnet = prefix + newbits;
  const problems: Array<{ field: "cidr" | "availabilityZones"; message: string }> = [];
  if (prefix < AWS_BLOCK_PREFIXES.min || prefix > AWS_BLOCK_PREFIXES.max) {
    problems.push({ field: "cidr", message: `a /${prefix} is outside AWS's VPC sizes (/${AWS_BLOCK_PREFIXES.min} to /${AWS_BLOCK_PREFIXES.max}); ${use}` });
  } else if (subnet > LOAD_BALANCER_SUBNET_MAX_PREFIX) {
    const why =
      subnet > AWS_BLOCK_PREFIXES.max
        ? `smaller than AWS's smallest subnet (/${AWS_BLOCK_PREFIXES.max})`
        : `and a load balancer's subnets must be /${LOAD_BALANCER_SUBNET_MAX_PREFIX} or larger`;
    problems.push({
      field: "cidr",
      message: `is too small for its subnets: each availability zone gets one ${newbits} bits longer, a /${subnet}, ${why}; ${use}`,
    });
  }
  if (availabilityZones !== undefined && availabilityZones > 2 ** newbits) {
    problems.push({
      field: "availabilityZones",
      message: `${availabilityZones} availability zones need ${availabilityZones} subnets, but a /${prefix} carved into /${subnet}s has room for ${2 ** newbits}`,
    });
  }
  return problems;
}

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

/**
 * Capacity by role, not by color: the colors swap roles at each blue/green or canary release.
 * Terraform gives each color the min/max of its role; a release sets desired.
 */
const capacityByRole = z.strictObject({ live: capacity, idle: capacity }).superRefine((c, ctx) => {
  if (c.live.desired < 1) {
    ctx.addIssue({ code: "custom", path: ["live", "desired"], message: "must be >= 1: the live color serves the site" });
  }
  if (c.idle.max < c.live.desired) {
    ctx.addIssue({
      code: "custom",
      path: ["idle", "max"],
      message: `idle max (${c.idle.max}) must be >= live desired (${c.live.desired}): a blue/green or canary release scales the idle color up to the live color's size`,
    });
  }
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
    z
      .strictObject({
        mode: z.literal("dedicated"),
        cidr: cidr.default("10.40.0.0/16"),
        availabilityZones: z
          .number({ error: "must be a whole number from 2 to 6" })
          .int({ error: "must be a whole number from 2 to 6" })
          .min(2, { error: "must be at least 2 (the ALB and the ASG need two AZs)" })
          .max(6, { error: "must be at most 6" })
          .default(2),
      })
      // Also when the block has host bits set: its size is wrong either way.
      .superRefine(
        (net, ctx) => {
          const block = typeof net.cidr === "string" ? parseCidr(net.cidr) : undefined;
          if (!block) return;
          const zones = Number.isInteger(net.availabilityZones) ? net.availabilityZones : undefined;
          for (const p of dedicatedNetworkProblems(block.prefix, zones)) ctx.addIssue({ code: "custom", path: [p.field], message: p.message });
        },
        { when: () => true },
      ),
    /** An existing VPC and its public subnets, by id (no data source is read). */
    z.strictObject({
      mode: z.literal("existing"),
      vpcId: z.string().regex(VPC_ID, { error: "must be a VPC id such as vpc-0123456789abcdef0" }),
      subnetIds: z
        .array(z.string().regex(SUBNET_ID, { error: "must be a subnet id such as subnet-0123456789abcdef0" }))
        .min(2, { error: "must list at least 2 subnets in different availability zones" })
        .superRefine(refuseRepeats("network.subnetIds", "the load balancer takes one subnet per availability zone")),
    }),
  ],
  { error: "mode must be one of default-vpc, dedicated, existing" },
);

const S3_RESERVED_PREFIXES = ["xn--", "sthree-", "amzn-s3-demo-"];
const S3_RESERVED_SUFFIXES = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];
const BUCKET_FORM = "must be an S3 bucket name: 3-63 lowercase letters, digits and hyphens, starting and ending with a letter or digit";

/**
 * What is wrong with `name` as the state bucket: S3's naming rules for general purpose buckets,
 * and no dots, which S3 allows but Terraform's S3 backend cannot reach over HTTPS.
 */
export function stateBucketProblem(name: string): string | undefined {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name)) return "is formatted as an IP address, which S3 refuses as a bucket name";
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name)) return BUCKET_FORM;
  const prefix = S3_RESERVED_PREFIXES.find((p) => name.startsWith(p));
  if (prefix) return `starts with ${prefix}, which S3 reserves`;
  const suffix = S3_RESERVED_SUFFIXES.find((x) => name.endsWith(x));
  if (suffix) return `ends with ${suffix}, which S3 reserves`;
  if (name.includes(".")) {
    return "has dots: Terraform's S3 backend reaches the bucket at https://<bucket>.s3.<region>.amazonaws.com, whose certificate does not cover dotted names; use hyphens";
  }
  return undefined;
}

const stateBucket = z.string({ error: BUCKET_FORM }).superRefine((name, ctx) => {
  const problem = stateBucketProblem(name);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

export const stateBackend = z.discriminatedUnion(
  "type",
  [
    /** State in cdktf.out/ on this machine: fine for one person trying webfleet out. */
    z.strictObject({ type: z.literal("local") }),
    /** State in S3, shared by the team (see the bootstrap stack). */
    z.strictObject({
      type: z.literal("s3"),
      bucket: stateBucket,
      region: awsRegion.optional(),
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

/** The strategy grammar shared with `release` (modules/names.ts): in place, blue-green, canary=…. */
const strategyKey = z.string().superRefine((value, ctx) => {
  const parsed = parseStrategy(value);
  if ("error" in parsed) {
    ctx.addIssue({
      code: "custom",
      message: parsed.error.includes("is not a strategy")
        ? `must be one of ${STRATEGY_USAGE} (min-healthy=… listed in deployment.minimumHealthyHosts)`
        : parsed.error.replace(/^'[^']*': /, ""),
    });
  }
});

const minimumHealthy = z.union([z.number(), z.string()]).refine(
  (v) => {
    const m = MIN_HEALTHY.exec(String(v));
    if (!m) return false;
    return m[1] !== undefined ? Number(m[1]) >= 1 && Number(m[1]) <= 99 : Number(m[2]) >= 0;
  },
  { error: 'must be a fleet percent from 1% to 99% ("75%") or a host count (2)' },
);

const INSTANCE_TYPE_FORM =
  "must be an EC2 instance type such as t3.micro: <family>.<size>, the size one of nano, micro, small, medium, large, <N>xlarge, metal";
const ACM_ARN_FORM = "must be an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>)";
/** A customer managed policy: arn:aws:iam::<account>:policy/<path/>name. */
const POLICY_ARN = new RegExp(`^arn:${PARTITION}:iam::\\d{12}:policy/(?:[\\w+=,.@-]+/)*[\\w+=,.@-]{1,128}$`);
const BOUNDARY_FORM =
  `must be an IAM policy ARN such as arn:${PARTITION}:iam::123456789012:policy/webfleet-ci/webfleet-dev-workload-boundary ` +
  "(for an environment CI deploys: the CI stack's output workload_permissions_boundaries)";

/** A whole number of seconds from `min` to `max` (AWS's range for the setting). */
function seconds(min: number, max: number) {
  const error = `must be a whole number of seconds from ${min} to ${max}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
}

/**
 * Tag keys the stack sets itself (the provider's default tags in modules/webfleet-stack.ts, the
 * instance tags in modules/fleet.ts): a config tag with one of them would be silently replaced.
 */
export const STACK_TAG_KEYS = ["project", "environment", "managed-by", "color", "Name"] as const;
/** AWS allows 50 user tags per resource; the stack's own come first. */
export const MAX_CONFIG_TAGS = 50 - STACK_TAG_KEYS.length;
/** What Elastic Load Balancing (the strictest service the stack tags) allows in tag keys and values. */
const TAG_CHARACTER = /[\p{L}\p{Z}\p{N}_.:/=+\-@]/u;
const TAG_CHARACTERS = "letters, digits, spaces and _ . : / = + - @";
const DUPLICATE_IN_IAM = 'and IAM compares tag keys without case: it refuses the roles ("Duplicate tag keys")';

/** What is wrong with a tag key or value by AWS's rules (lengths in Unicode characters, not UTF-16 units). */
function tagTextProblems(what: "key" | "value", text: string, maxLength: number): string[] {
  const problems: string[] = [];
  const length = [...text].length;
  if (length > maxLength) problems.push(`the ${what} is ${length} characters long; AWS allows at most ${maxLength}`);
  const refused = [...new Set([...text].filter((c) => !TAG_CHARACTER.test(c)))];
  if (refused.length > 0) {
    problems.push(`the ${what} has characters AWS refuses in tags (${refused.map((c) => JSON.stringify(c)).join(", ")}); use ${TAG_CHARACTERS}`);
  }
  if (/^\p{Z}|\p{Z}$/u.test(text)) problems.push(`the ${what} has a leading or trailing space, which Elastic Load Balancing refuses`);
  return problems;
}

/** Tags on every resource of the environment: what AWS accepts, minus what the stack sets itself. */
export const userTags = z.record(z.string(), z.string({ error: 'must be a string; quote numbers and booleans ("123", "true")' })).superRefine(
  (tags, ctx) => {
    if (tags === null || typeof tags !== "object") return;
    const keys = Object.keys(tags);
    if (keys.length > MAX_CONFIG_TAGS) {
      ctx.addIssue({
        code: "custom",
        message: `${keys.length} tags; at most ${MAX_CONFIG_TAGS} (AWS allows 50 user tags per resource and the stack sets up to ${STACK_TAG_KEYS.length} of its own: ${STACK_TAG_KEYS.join(", ")})`,
      });
    }
    const stackKeys = new Map<string, string>(STACK_TAG_KEYS.map((k) => [k.toLowerCase(), k]));
    const seen = new Map<string, string>();
    for (const key of keys) {
      const problems: string[] = [];
      const quoted = JSON.stringify(key);
      if (key === "") problems.push("the key is empty; AWS tag keys are 1 to 128 characters");
      else problems.push(...tagTextProblems("key", key, 128));
      if (/^aws:/i.test(key)) problems.push(`the key ${quoted} starts with aws:, which AWS reserves for its own tags (in any case); use another key`);
      const stackKey = stackKeys.get(key.toLowerCase());
      if (stackKey === key) {
        problems.push(`the key ${quoted} is set by the stack itself (${STACK_TAG_KEYS.join(", ")}), which would silently override this value; use another key`);
      } else if (stackKey !== undefined) {
        problems.push(`the key ${quoted} differs from the stack's own ${JSON.stringify(stackKey)} only in case, ${DUPLICATE_IN_IAM}; use another key`);
      }
      const earlier = seen.get(key.toLowerCase());
      if (earlier !== undefined) problems.push(`the keys ${JSON.stringify(earlier)} and ${quoted} differ only in case, ${DUPLICATE_IN_IAM}; keep one`);
      seen.set(key.toLowerCase(), key);

      const value: unknown = tags[key];
      if (typeof value === "string") {
        problems.push(...tagTextProblems("value", value, 256));
        if (/^aws:/i.test(value)) problems.push("the value starts with aws:, which Elastic Load Balancing reserves for AWS's own tags; use another value");
      }
      for (const message of problems) ctx.addIssue({ code: "custom", path: [key], message });
    }
  },
  { when: () => true },
);

export const environmentSchema = z
  .strictObject({
    region: awsRegion,
    network,
    instanceType: z
      .string({ error: INSTANCE_TYPE_FORM })
      .regex(INSTANCE_TYPE, { error: INSTANCE_TYPE_FORM })
      .refine((t) => !MAC_FAMILY.test(t), {
        error: (issue) =>
          `${String(issue.input)} is a Mac instance, which runs macOS on a Dedicated Host only; the fleets run Amazon Linux 2023 in Auto Scaling groups: use one such as t3.micro`,
      })
      .default("t3.micro"),
    architecture: z.enum(["x86_64", "arm64"], { error: "must be x86_64 or arm64" }).default("x86_64"),
    capacity: capacityByRole,
    ami: z.strictObject({ blue: amiSource, green: amiSource }),
    clientCidrs: z
      .array(cidr)
      .min(1, { error: "must list at least one CIDR (0.0.0.0/0 for the whole internet)" })
      .superRefine(refuseRepeats("clientCidrs", "a security group refuses a duplicate rule"))
      .default(["0.0.0.0/0"]),
    /** Partition and region are checked against the environment's below. */
    certificateArn: z.string({ error: ACM_ARN_FORM }).regex(ACM_ARN, { error: ACM_ARN_FORM }).optional(),
    /**
     * The permissions boundary of the environment's IAM roles (the instance role and CodeDeploy's
     * service role). An environment deployed by CI names the one the CI stack makes for it: its
     * deploy role creates and changes these roles only with that boundary (docs/ci.md).
     */
    permissionsBoundaryArn: z.string({ error: BOUNDARY_FORM }).regex(POLICY_ARN, { error: BOUNDARY_FORM }).optional(),
    loadBalancer: z
      .strictObject({
        deletionProtection: z.boolean({ error: "must be true or false" }).default(false),
        idleTimeoutSeconds: seconds(1, 4000).default(60),
      })
      .prefault({}),
    deployment: z
      .strictObject({
        defaultStrategy: strategyKey.default("one-at-a-time"),
        minimumHealthyHosts: z
          .array(minimumHealthy)
          .superRefine(refuseRepeats("deployment.minimumHealthyHosts", "each value is one CodeDeploy deployment config"))
          .default([]),
        deregistrationDelaySeconds: seconds(0, 3600).default(30),
        notificationEmails: z
          .array(z.email({ error: "must be an email address" }))
          .superRefine(
            refuseRepeats<string>("deployment.notificationEmails", "list each once", {
              sameAs: (e) => e.toLowerCase(),
              note: "; addresses compare without case",
            }),
          )
          .default([]),
        /**
         * How `npm run nightly` brings a new image to production: blue-green (idle color, smoke
         * test, switch), refresh (instance refresh of the live color), or none (stop at the idle
         * color; promote by hand, e.g. after a reviewer's approval).
         */
        nightlyRollout: z.enum(["blue-green", "refresh", "none"], { error: "must be blue-green, refresh or none" }).default("blue-green"),
      })
      .prefault({}),
    stateBackend: stateBackend.prefault({ type: "local" }),
    tags: userTags.default({}),
  })
  // Cross-field rules. `when` runs them even when other fields failed, so that every error is
  // reported at once; each rule checks that the fields it reads parsed.
  .superRefine(
    (env, ctx) => {
      // An ALB takes certificates from ACM in its own region, and only of webfleet's partition.
      const cert = typeof env.certificateArn === "string" ? ACM_ARN.exec(env.certificateArn) : null;
      if (cert && cert[1] !== PARTITION) {
        ctx.addIssue({
          code: "custom",
          path: ["certificateArn"],
          message: `is in the ${cert[1]} partition; webfleet supports the ${PARTITION} partition only (arn:${PARTITION}:acm:…)`,
        });
      } else if (cert && typeof env.region === "string" && regionProblem(env.region) === undefined && cert[2] !== env.region) {
        ctx.addIssue({
          code: "custom",
          path: ["certificateArn"],
          message: `is in ${cert[2]}, but the load balancer is in ${env.region}: an ALB uses only ACM certificates of its own region; request or import the certificate in ${env.region}`,
        });
      }
      const type = env.instanceType;
      if (typeof type === "string" && INSTANCE_TYPE.test(type) && !MAC_FAMILY.test(type)) {
        const arm64 = ARM64_FAMILY.test(type);
        if (env.architecture === "arm64" && !arm64) {
          ctx.addIssue({
            code: "custom",
            path: ["instanceType"],
            message: `${type} is not an arm64 (Graviton) type; use one such as t4g.micro, or architecture x86_64`,
          });
        }
        if (env.architecture === "x86_64" && arm64) {
          ctx.addIssue({
            code: "custom",
            path: ["instanceType"],
            message: `${type} is an arm64 (Graviton) type; set architecture: arm64 or use one such as t3.micro`,
          });
        }
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
export type Capacity = EnvironmentFile["capacity"]["live"];
