import { SecurityGroups } from "../../modules/security-groups";
import { doc, resources, synthConstruct } from "../helpers/stack";

function synth(props: { clientCidrs: string[]; https?: boolean }) {
  return doc(synthConstruct((scope) => new SecurityGroups(scope, "sg", { vpcId: "vpc-1", namePrefix: "webfleet-test", ...props })));
}

describe("SecurityGroups", () => {
  it("opens 80 on the load balancer to each client CIDR, and 443 only with HTTPS", () => {
    const http = resources(synth({ clientCidrs: ["203.0.113.0/24", "198.51.100.0/24"] }), "aws_vpc_security_group_ingress_rule");
    const albRules = http.filter((r) => r.cidr_ipv4);
    expect(albRules.map((r) => [r.cidr_ipv4, r.from_port])).toEqual([
      ["203.0.113.0/24", 80],
      ["198.51.100.0/24", 80],
    ]);

    const https = resources(synth({ clientCidrs: ["203.0.113.0/24"], https: true }), "aws_vpc_security_group_ingress_rule");
    expect(
      https
        .filter((r) => r.cidr_ipv4)
        .map((r) => Number(r.from_port))
        .sort((a, b) => a - b),
    ).toEqual([80, 443]);
  });

  it("routes only load balancer traffic to the instances, on port 80", () => {
    const json = synth({ clientCidrs: ["0.0.0.0/0"] });
    const toInstances = resources(json, "aws_vpc_security_group_ingress_rule").filter((r) => String(r.security_group_id).includes("instances"));
    expect(toInstances).toHaveLength(1);
    expect(toInstances[0]).toMatchObject({ from_port: 80, to_port: 80, ip_protocol: "tcp" });
    expect(toInstances[0].referenced_security_group_id).toContain("aws_security_group.sg_alb");
    expect(toInstances[0].cidr_ipv4).toBeUndefined();
  });

  it("never opens SSH", () => {
    const rules = resources(synth({ clientCidrs: ["0.0.0.0/0"], https: true }), "aws_vpc_security_group_ingress_rule");
    expect(rules.some((r) => Number(r.from_port) <= 22 && Number(r.to_port) >= 22)).toBe(false);
  });

  it("lets the instances out on HTTPS only (agent, S3, Session Manager)", () => {
    const egress = resources(synth({ clientCidrs: ["0.0.0.0/0"] }), "aws_vpc_security_group_egress_rule").filter((r) =>
      String(r.security_group_id).includes("instances"),
    );
    expect(egress).toEqual([expect.objectContaining({ from_port: 443, to_port: 443, cidr_ipv4: "0.0.0.0/0" })]);
  });

  it("refuses an empty client list", () => {
    expect(() => synth({ clientCidrs: [] })).toThrow("clientCidrs ([]) must list at least one CIDR");
  });
});
