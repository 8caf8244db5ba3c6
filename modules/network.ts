import { Construct } from "constructs";
import { Fn, Token } from "cdktf";
import { DataAwsAvailabilityZones } from "@cdktf/provider-aws/lib/data-aws-availability-zones";
import { DataAwsEc2InstanceTypeOfferings } from "@cdktf/provider-aws/lib/data-aws-ec2-instance-type-offerings";
import { DataAwsSubnets } from "@cdktf/provider-aws/lib/data-aws-subnets";
import { DataAwsVpc } from "@cdktf/provider-aws/lib/data-aws-vpc";
import { InternetGateway } from "@cdktf/provider-aws/lib/internet-gateway";
import { RouteTable } from "@cdktf/provider-aws/lib/route-table";
import { RouteTableAssociation } from "@cdktf/provider-aws/lib/route-table-association";
import { Subnet } from "@cdktf/provider-aws/lib/subnet";
import { Vpc } from "@cdktf/provider-aws/lib/vpc";
import { DEDICATED_SUBNET_NEWBITS, type NetworkConfig } from "../config/schema";

export interface NetworkProps {
  /** Where the web tier lives: the default VPC, a dedicated VPC, or existing ids. */
  readonly network: NetworkConfig;
  /** Prefix of the Name tags of what this construct creates. */
  readonly namePrefix: string;
  /**
   * The fleets' instance type. Only zones that offer it are used (us-east-1e, for one, offers no
   * t3): the default VPC's subnets there, or the zones a dedicated VPC's subnets go to.
   * @default - every zone
   */
  readonly instanceType?: string;
}

/**
 * The VPC and the public subnets (at least two availability zones) that the load balancer
 * and both fleets use. Instances have public addresses so the CodeDeploy agent reaches AWS
 * without a NAT gateway; their security group admits nothing but the load balancer.
 */
export class Network extends Construct {
  readonly vpcId: string;
  readonly subnetIds: string[];

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    const net = props.network;
    switch (net.mode) {
      case "existing": {
        this.vpcId = net.vpcId;
        this.subnetIds = [...net.subnetIds];
        break;
      }
      case "default-vpc": {
        // As in the tutorial: every subnet of the default VPC is public (default-for-az).
        const vpc = new DataAwsVpc(this, "default-vpc", { default: true });
        const filter = [
          { name: "vpc-id", values: [vpc.id] },
          { name: "default-for-az", values: ["true"] },
        ];
        if (props.instanceType) filter.push({ name: "availability-zone", values: this.offeredZones(props.instanceType) });
        const subnets = new DataAwsSubnets(this, "default-subnets", {
          filter,
          lifecycle: {
            postcondition: [
              {
                condition: "${length(self.ids) >= 2}",
                errorMessage: `the default VPC needs default subnets in at least 2 availability zones${props.instanceType ? ` that offer ${props.instanceType}` : ""}`,
              },
            ],
          },
        });
        this.vpcId = vpc.id;
        this.subnetIds = subnets.ids;
        break;
      }
      case "dedicated": {
        const vpc = new Vpc(this, "vpc", {
          cidrBlock: net.cidr,
          enableDnsHostnames: true,
          enableDnsSupport: true,
          tags: { Name: props.namePrefix },
        });
        // Regular zones only (no opted-in Local Zones) that offer the instance type, and enough
        // of them: an index past the list fails instead of putting two subnets in one zone,
        // which the load balancer refuses.
        const filter = [{ name: "opt-in-status", values: ["opt-in-not-required"] }];
        if (props.instanceType) filter.push({ name: "zone-name", values: this.offeredZones(props.instanceType) });
        const azs = new DataAwsAvailabilityZones(this, "azs", {
          state: "available",
          filter,
          lifecycle: {
            postcondition: [
              {
                condition: `\${length(self.names) >= ${net.availabilityZones}}`,
                errorMessage: `network.availabilityZones (${net.availabilityZones}) is more than the zones of this region${props.instanceType ? ` that offer ${props.instanceType}` : ""}`,
              },
            ],
          },
        });
        const igw = new InternetGateway(this, "igw", { vpcId: vpc.id, tags: { Name: props.namePrefix } });
        const routes = new RouteTable(this, "public", {
          vpcId: vpc.id,
          route: [{ cidrBlock: "0.0.0.0/0", gatewayId: igw.id }],
          tags: { Name: `${props.namePrefix}-public` },
        });
        const subnets: Subnet[] = [];
        for (let i = 0; i < net.availabilityZones; i++) {
          const subnet = new Subnet(this, `public-${i}`, {
            vpcId: vpc.id,
            availabilityZone: Token.asString(Fn.lookupNested(azs.names, [i])),
            // /20s out of a /16: room for 4,000 addresses per AZ. The config check refuses
            // blocks whose subnets AWS or the load balancer would not take.
            cidrBlock: Fn.cidrsubnet(vpc.cidrBlock, DEDICATED_SUBNET_NEWBITS, i),
            mapPublicIpOnLaunch: true,
            tags: { Name: `${props.namePrefix}-public-${i}` },
          });
          new RouteTableAssociation(this, `public-${i}-routes`, { subnetId: subnet.id, routeTableId: routes.id });
          subnets.push(subnet);
        }
        this.vpcId = vpc.id;
        this.subnetIds = subnets.map((s) => s.id);
        break;
      }
    }
  }

  /** The zones of the region that offer `instanceType` (EC2 instance type offerings). */
  private offeredZones(instanceType: string): string[] {
    const offered = new DataAwsEc2InstanceTypeOfferings(this, "offered-zones", {
      locationType: "availability-zone",
      filter: [{ name: "instance-type", values: [instanceType] }],
    });
    return offered.locations;
  }
}
