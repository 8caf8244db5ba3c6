import { Lb } from "@cdktf/provider-aws/lib/lb";
import { LbListener } from "@cdktf/provider-aws/lib/lb-listener";
import { LbListenerRule } from "@cdktf/provider-aws/lib/lb-listener-rule";
import { LbTargetGroup } from "@cdktf/provider-aws/lib/lb-target-group";
import { COLOR_HEADER, LoadBalancer, type LoadBalancerProps, SMOKE_KEY_HEADER, TLS_POLICY } from "../../modules/load-balancer";
import { doc, resources, synthConstruct } from "../helpers/stack";

const base: LoadBalancerProps = {
  namePrefix: "webfleet-test",
  vpcId: "vpc-1",
  subnetIds: ["subnet-a", "subnet-b"],
  securityGroupId: "sg-alb",
  weights: { blue: 90, green: 10 },
  smokeTestKey: "0b5e7c1a-smoke",
};
const synth = (overrides: Partial<LoadBalancerProps> = {}) => synthConstruct((scope) => new LoadBalancer(scope, "lb", { ...base, ...overrides }));

describe("LoadBalancer", () => {
  it("is internet-facing, drops invalid headers, and keeps deletion protection off unless asked", () => {
    expect(synth()).toHaveResourceWithProperties(Lb, {
      internal: false,
      load_balancer_type: "application",
      drop_invalid_header_fields: true,
      enable_deletion_protection: false,
    });
    expect(synth({ deletionProtection: true })).toHaveResourceWithProperties(Lb, { enable_deletion_protection: true });
  });

  it("health-checks the AMI's own endpoint and deregisters in 30 s, not AWS's 300 s", () => {
    const groups = resources(doc(synth()), "aws_lb_target_group");
    expect(groups).toHaveLength(2);
    for (const g of groups) {
      expect(g).toMatchObject({
        deregistration_delay: "30",
        health_check: expect.objectContaining({ path: "/health", matcher: "200", interval: 10, healthy_threshold: 2 }),
      });
    }
    expect(synth()).toHaveResourceWithProperties(LbTargetGroup, { name: "webfleet-test-green", tags: { color: "green" } });
  });

  it("forwards to blue and green by weight on HTTP without a certificate", () => {
    expect(synth()).toHaveResourceWithProperties(LbListener, {
      port: 80,
      protocol: "HTTP",
      default_action: [
        expect.objectContaining({
          type: "forward",
          forward: expect.objectContaining({
            target_group: [
              { arn: expect.stringContaining("tg-blue"), weight: 90 },
              { arn: expect.stringContaining("tg-green"), weight: 10 },
            ],
          }),
        }),
      ],
    });
    expect(resources(doc(synth()), "aws_lb_listener")).toHaveLength(1);
  });

  it("serves HTTPS with a modern TLS policy and redirects 80 to 443 when given a certificate", () => {
    const out = synth({ certificateArn: "arn:aws:acm:us-east-1:123456789012:certificate/abc" });
    expect(out).toHaveResourceWithProperties(LbListener, { port: 443, protocol: "HTTPS", ssl_policy: TLS_POLICY });
    expect(out).toHaveResourceWithProperties(LbListener, {
      port: 80,
      default_action: [
        expect.objectContaining({ type: "redirect", redirect: expect.objectContaining({ protocol: "HTTPS", port: "443", status_code: "HTTP_301" }) }),
      ],
    });
  });

  it("routes a request with the color header and the smoke-test key to that color only", () => {
    expect(synth()).toHaveResourceWithProperties(LbListenerRule, {
      condition: [
        { http_header: { http_header_name: COLOR_HEADER, values: ["green"] } },
        { http_header: { http_header_name: SMOKE_KEY_HEADER, values: ["0b5e7c1a-smoke"] } },
      ],
      action: [expect.objectContaining({ type: "forward", target_group_arn: expect.stringContaining("tg-green") })],
    });
  });

  test.each([
    [{ namePrefix: "webfleet-a-very-long-environment" }, "must be at most 25 characters"],
    [{ healthCheckIntervalSeconds: 2 }, "healthCheckIntervalSeconds (2) must be from 5 to 300"],
    [{ healthyThresholdCount: 1 }, "healthyThresholdCount (1) must be from 2 to 10"],
  ])("refuses %j", (overrides, message) => {
    expect(() => synth(overrides)).toThrow(message);
  });
});
