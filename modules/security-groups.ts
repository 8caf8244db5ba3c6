import { Construct } from "constructs";
import { SecurityGroup } from "@cdktf/provider-aws/lib/security-group";
import { VpcSecurityGroupEgressRule } from "@cdktf/provider-aws/lib/vpc-security-group-egress-rule";
import { VpcSecurityGroupIngressRule } from "@cdktf/provider-aws/lib/vpc-security-group-ingress-rule";

export interface SecurityGroupsProps {
  readonly vpcId: string;
  /** Prefix of the group names. */
  readonly namePrefix: string;
  /** Who may reach the load balancer. */
  readonly clientCidrs: readonly string[];
  /**
   * Open 443 on the load balancer (an HTTPS listener exists).
   * @default false - port 80 only
   */
  readonly https?: boolean;
}

/**
 * Two groups: the load balancer's (80/443 from the client CIDRs) and the instances'
 * (80 from the load balancer's group only). No SSH anywhere: use Session Manager
 * (`aws ssm start-session`), which the instance role allows.
 */
export class SecurityGroups extends Construct {
  readonly loadBalancerGroupId: string;
  readonly instanceGroupId: string;

  constructor(scope: Construct, id: string, props: SecurityGroupsProps) {
    super(scope, id);
    if (props.clientCidrs.length === 0) {
      throw new Error("clientCidrs ([]) must list at least one CIDR");
    }
    const https = props.https ?? false;

    const alb = new SecurityGroup(this, "alb", {
      name: `${props.namePrefix}-alb`,
      description: "webfleet load balancer: HTTP(S) from clients",
      vpcId: props.vpcId,
      tags: { Name: `${props.namePrefix}-alb` },
    });
    const instances = new SecurityGroup(this, "instances", {
      name: `${props.namePrefix}-instances`,
      description: "webfleet instances: HTTP from the load balancer only",
      vpcId: props.vpcId,
      tags: { Name: `${props.namePrefix}-instances` },
    });

    const ports = https ? [80, 443] : [80];
    props.clientCidrs.forEach((cidr, i) => {
      for (const port of ports) {
        new VpcSecurityGroupIngressRule(this, `alb-in-${port}-${i}`, {
          securityGroupId: alb.id,
          description: `clients ${cidr} on ${port}`,
          ipProtocol: "tcp",
          fromPort: port,
          toPort: port,
          cidrIpv4: cidr,
        });
      }
    });
    new VpcSecurityGroupEgressRule(this, "alb-out-instances", {
      securityGroupId: alb.id,
      description: "to the instances on 80",
      ipProtocol: "tcp",
      fromPort: 80,
      toPort: 80,
      referencedSecurityGroupId: instances.id,
    });

    new VpcSecurityGroupIngressRule(this, "instances-in-alb", {
      securityGroupId: instances.id,
      description: "HTTP from the load balancer",
      ipProtocol: "tcp",
      fromPort: 80,
      toPort: 80,
      referencedSecurityGroupId: alb.id,
    });
    // The CodeDeploy agent, Session Manager and S3 are HTTPS endpoints; nothing else leaves.
    new VpcSecurityGroupEgressRule(this, "instances-out-https", {
      securityGroupId: instances.id,
      description: "HTTPS to AWS APIs (CodeDeploy, S3, SSM)",
      ipProtocol: "tcp",
      fromPort: 443,
      toPort: 443,
      cidrIpv4: "0.0.0.0/0",
    });

    this.loadBalancerGroupId = alb.id;
    this.instanceGroupId = instances.id;
  }
}
