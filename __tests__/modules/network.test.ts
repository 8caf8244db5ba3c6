import { Network } from "../../modules/network";
import { doc, resources, synthConstruct } from "../helpers/stack";
import type { NetworkConfig } from "../../config/schema";

const synth = (network: NetworkConfig, instanceType?: string) => {
  let net!: Network;
  const json = doc(synthConstruct((s) => (net = new Network(s, "net", { network, namePrefix: "webfleet-test", instanceType }))));
  return { json, net };
};

describe("Network", () => {
  it("uses explicit ids as given, without reading any data source", () => {
    const { json, net } = synth({ mode: "existing", vpcId: "vpc-0123456789abcdef0", subnetIds: ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"] });
    expect(json.data).toBeUndefined();
    expect(json.resource?.aws_vpc).toBeUndefined();
    expect(net.vpcId).toBe("vpc-0123456789abcdef0");
    expect(net.subnetIds).toEqual(["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]);
  });

  it("finds the default VPC and its default-for-az subnets, as in the tutorial, in zones that offer the instance type", () => {
    const { json } = synth({ mode: "default-vpc" }, "t3.micro");
    expect(Object.values(json.data?.aws_vpc ?? {})[0]).toMatchObject({ default: true });
    const subnets = JSON.stringify(json.data?.aws_subnets);
    expect(subnets).toContain('"name":"default-for-az","values":["true"]');
    expect(subnets).toContain('"name":"availability-zone","values":"${data.aws_ec2_instance_type_offerings.');
    expect(subnets).toContain("length(self.ids) >= 2");
    expect(JSON.stringify(json.data?.aws_ec2_instance_type_offerings)).toContain('"values":["t3.micro"]');
  });

  it("builds a dedicated VPC with one public subnet per availability zone", () => {
    const { json, net } = synth({ mode: "dedicated", cidr: "10.40.0.0/16", availabilityZones: 3 });
    expect(resources(json, "aws_vpc")[0]).toMatchObject({ cidr_block: "10.40.0.0/16", enable_dns_hostnames: true });
    const subnets = resources(json, "aws_subnet");
    expect(subnets).toHaveLength(3);
    expect(subnets.every((s) => s.map_public_ip_on_launch === true)).toBe(true);
    expect(resources(json, "aws_route_table_association")).toHaveLength(3);
    expect(JSON.stringify(resources(json, "aws_route_table")[0])).toContain('"cidr_block":"0.0.0.0/0"');
    expect(net.subnetIds).toHaveLength(3);
    // One subnet per zone: an index past the zones fails instead of wrapping around.
    expect(subnets.map((s) => s.availability_zone)).toEqual([0, 1, 2].map((i) => expect.stringMatching(new RegExp(`\\.names\\.${i}\\}$`))));
    const azs = Object.values(json.data?.aws_availability_zones ?? {})[0];
    expect(JSON.stringify(azs)).toContain('"opt-in-not-required"');
    expect(JSON.stringify(azs)).toContain("length(self.names) >= 3");
  });

  it("puts a dedicated VPC's subnets only in zones that offer the instance type", () => {
    // GIVEN a Graviton type, which not every zone offers
    const { json } = synth({ mode: "dedicated", cidr: "10.40.0.0/16", availabilityZones: 2 }, "m7g.large");
    // THEN the zones are read from the type's offerings, and too few of them fail the plan naming the type
    expect(Object.values(json.data?.aws_ec2_instance_type_offerings ?? {})[0]).toMatchObject({
      location_type: "availability-zone",
      filter: [{ name: "instance-type", values: ["m7g.large"] }],
    });
    const azs = Object.values(json.data?.aws_availability_zones ?? {})[0] as {
      filter: unknown[];
      lifecycle: { postcondition: Array<{ error_message: string }> };
    };
    expect(azs.filter).toEqual([
      { name: "opt-in-status", values: ["opt-in-not-required"] },
      { name: "zone-name", values: expect.stringMatching(/^\$\{data\.aws_ec2_instance_type_offerings\.net_offered-zones_[0-9A-F]+\.locations\}$/) },
    ]);
    expect(azs.lifecycle.postcondition[0].error_message).toBe("network.availabilityZones (2) is more than the zones of this region that offer m7g.large");
  });
});
