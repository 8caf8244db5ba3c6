import { Network } from "../../modules/network";
import { doc, resources, synthConstruct } from "../helpers/stack";
import type { NetworkConfig } from "../../config/schema";

const synth = (network: NetworkConfig) => {
  let net!: Network;
  const json = doc(synthConstruct((s) => (net = new Network(s, "net", { network, namePrefix: "webfleet-test" }))));
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

  it("finds the default VPC and its default-for-az subnets, as in the tutorial", () => {
    const { json } = synth({ mode: "default-vpc" });
    expect(Object.values(json.data?.aws_vpc ?? {})[0]).toMatchObject({ default: true });
    expect(JSON.stringify(json.data?.aws_subnets)).toContain('"name":"default-for-az","values":["true"]');
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
  });
});
