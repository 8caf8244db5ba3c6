/**
 * The security baseline, checked over every stack the project synthesizes (the shipped
 * environments, the bootstrap stack and the offline fixture), not just one construct.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { buildApp } from "../main";
import type { TerraformJson } from "./helpers/stack";

const outdir = mkdtempSync(join(tmpdir(), "webfleet-baseline-"));
const stacks: Array<[string, TerraformJson]> = [];
for (const [name, configDir] of [
  ["shipped", undefined],
  ["fixtures", resolve(__dirname, "fixtures/config")],
] as const) {
  const { app } = buildApp({ outdir: join(outdir, name), configDir });
  app.synth();
  for (const stack of app.node.children.map((c) => c.node.id)) {
    stacks.push([stack, JSON.parse(readFileSync(join(outdir, name, "stacks", stack, "cdk.tf.json"), "utf8"))]);
  }
}

type Resource = Record<string, unknown>;
const all = (json: TerraformJson, type: string): Array<[string, Resource]> => Object.entries(json.resource?.[type] ?? {});
const refersTo = (value: unknown, id: string) => typeof value === "string" && value.includes(`.${id}.`);

describe.each(stacks)("security baseline of %s", (_stack, json) => {
  it("requires IMDSv2 on every launch template", () => {
    for (const [, lt] of all(json, "aws_launch_template")) {
      expect(lt.metadata_options).toMatchObject({ http_tokens: "required" });
    }
  });

  it("encrypts every volume", () => {
    for (const [, lt] of all(json, "aws_launch_template")) {
      const mappings = (lt.block_device_mappings ?? []) as Array<{ ebs?: { encrypted?: string } }>;
      expect(mappings.length).toBeGreaterThan(0);
      for (const m of mappings) expect(m.ebs?.encrypted).toBe("true");
    }
  });

  it("never pins a launch template to $Latest", () => {
    expect(JSON.stringify(json.resource ?? {})).not.toContain("$Latest");
  });

  it("opens no port 22 and no inline rules", () => {
    for (const [, rule] of all(json, "aws_vpc_security_group_ingress_rule")) {
      const from = Number(rule.from_port ?? -1);
      const to = Number(rule.to_port ?? -1);
      expect(rule.ip_protocol === "-1" || (from <= 22 && to >= 22)).toBe(false);
    }
    for (const [, group] of all(json, "aws_security_group")) expect(group.ingress).toBeUndefined();
  });

  it("admits nothing to the instances but the load balancer's group", () => {
    const instanceGroups = all(json, "aws_security_group")
      .filter(([, g]) => String(g.name).endsWith("-instances"))
      .map(([id]) => id);
    for (const [, rule] of all(json, "aws_vpc_security_group_ingress_rule")) {
      if (!instanceGroups.some((id) => refersTo(rule.security_group_id, id))) continue;
      expect(rule.cidr_ipv4).toBeUndefined();
      expect(rule.cidr_ipv6).toBeUndefined();
      expect(String(rule.referenced_security_group_id)).toMatch(/aws_security_group\.[\w-]+_alb_/);
    }
  });

  it("blocks public access, encrypts, versions and requires TLS on every bucket", () => {
    for (const [id] of all(json, "aws_s3_bucket")) {
      const pab = all(json, "aws_s3_bucket_public_access_block").find(([, p]) => refersTo(p.bucket, id))?.[1];
      expect(pab).toMatchObject({ block_public_acls: true, block_public_policy: true, ignore_public_acls: true, restrict_public_buckets: true });
      expect(all(json, "aws_s3_bucket_server_side_encryption_configuration").some(([, e]) => refersTo(e.bucket, id))).toBe(true);
      const versioning = all(json, "aws_s3_bucket_versioning_a")
        .concat(all(json, "aws_s3_bucket_versioning"))
        .find(([, v]) => refersTo(v.bucket, id))?.[1];
      expect(versioning).toMatchObject({ versioning_configuration: { status: "Enabled" } });
      const policy = all(json, "aws_s3_bucket_policy").find(([, p]) => refersTo(p.bucket, id))?.[1];
      expect(String(policy?.policy)).toContain('"aws:SecureTransport":"false"');
    }
  });

  it("drops invalid headers at the load balancer and serves HTTPS only with a modern TLS policy", () => {
    for (const [, lb] of all(json, "aws_lb")) expect(lb.drop_invalid_header_fields).toBe(true);
    for (const [, listener] of all(json, "aws_lb_listener")) {
      if (listener.protocol === "HTTPS") expect(String(listener.ssl_policy)).toMatch(/^ELBSecurityPolicy-TLS13-/);
    }
  });

  it("lets CodeDeploy assume a role only for this account's deployment groups (confused deputy)", () => {
    for (const [, role] of all(json, "aws_iam_role")) {
      for (const s of JSON.parse(String(role.assume_role_policy)).Statement as Array<{
        Principal?: { Service?: string };
        Condition?: Record<string, object>;
      }>) {
        if (s.Principal?.Service !== "codedeploy.amazonaws.com") continue;
        expect(s.Condition).toMatchObject({
          StringEquals: { "aws:SourceAccount": expect.any(String) },
          ArnLike: { "aws:SourceArn": expect.stringMatching(/^arn:aws:codedeploy:[a-z0-9-]+:.+:deploymentgroup:.+\/\*$/) },
        });
      }
    }
  });

  it("passes roles only to EC2, and launches or tags only under a condition", () => {
    for (const [, policy] of all(json, "aws_iam_role_policy")) {
      const statements = JSON.parse(String(policy.policy)).Statement as Array<{
        Action: string | string[];
        Condition?: Record<string, Record<string, unknown>>;
      }>;
      for (const s of statements) {
        const actions = [s.Action].flat();
        if (actions.includes("iam:PassRole")) expect(s.Condition?.StringEquals?.["iam:PassedToService"]).toBe("ec2.amazonaws.com");
        if (actions.some((a) => a === "ec2:RunInstances" || a === "ec2:CreateTags")) expect(s.Condition).toBeDefined();
      }
    }
  });

  it("grants no IAM action '*'", () => {
    for (const [, policy] of all(json, "aws_iam_role_policy")) {
      const statements = JSON.parse(String(policy.policy)).Statement as Array<{ Action: string | string[] }>;
      for (const s of statements) expect([s.Action].flat()).not.toContain("*");
    }
  });
});
