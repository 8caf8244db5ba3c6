import { Construct } from "constructs";
import { Lb } from "@cdktf/provider-aws/lib/lb";
import { LbListener, type LbListenerDefaultAction } from "@cdktf/provider-aws/lib/lb-listener";
import { LbListenerRule } from "@cdktf/provider-aws/lib/lb-listener-rule";
import { LbTargetGroup } from "@cdktf/provider-aws/lib/lb-target-group";
import { SMOKE_KEY_HEADER, COLOR_HEADER, COLORS, HEALTH_CHECK, type Color } from "./names";

export { COLOR_HEADER, SMOKE_KEY_HEADER };

/** TLS 1.3 with TLS 1.2 fallback: AWS's recommended policy for new HTTPS listeners. */
export const TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06";

export interface LoadBalancerProps {
  /** Prefix of the load balancer and target group names (<= 25 characters). */
  readonly namePrefix: string;
  readonly vpcId: string;
  /** Public subnets in at least two availability zones. */
  readonly subnetIds: string[];
  readonly securityGroupId: string;
  /** Listener weight (0-100) of each color's target group. */
  readonly weights: Readonly<Record<Color, number>>;
  /** The value {@link SMOKE_KEY_HEADER} must have to reach one color by {@link COLOR_HEADER}. */
  readonly smokeTestKey: string;
  /**
   * ACM certificate: HTTPS on 443 with {@link TLS_POLICY}, and port 80 redirects to it.
   * @default - HTTP on port 80 only
   */
  readonly certificateArn?: string;
  /**
   * Refuse to delete the load balancer (AWS-side protection).
   * @default false
   */
  readonly deletionProtection?: boolean;
  /**
   * Seconds an idle connection is kept open.
   * @default 60
   */
  readonly idleTimeoutSeconds?: number;
  /**
   * Seconds a deregistering target keeps serving in-flight requests. AWS's 300 s default makes
   * every rolling batch wait five minutes.
   * @default 30
   */
  readonly deregistrationDelaySeconds?: number;
  /**
   * Path of the health endpoint the AMI serves outside the web root.
   * @default HEALTH_CHECK.path ("/health")
   */
  readonly healthCheckPath?: string;
  /**
   * Seconds between health checks.
   * @default 10
   */
  readonly healthCheckIntervalSeconds?: number;
  /**
   * Consecutive successes before a target is healthy (and failures before it is not).
   * @default 2
   */
  readonly healthyThresholdCount?: number;
}

/**
 * The internet-facing Application Load Balancer, one target group per color, and the
 * listener that forwards to both by weight. A request with `X-Webfleet-Color: <color>` and the
 * environment's smoke-test key in `X-Webfleet-Smoke-Key` reaches that color only, whatever the
 * weights, so a release can smoke-test the idle fleet.
 */
export class LoadBalancer extends Construct {
  readonly loadBalancer: Lb;
  readonly targetGroups: Record<Color, LbTargetGroup>;
  /** The listener that carries the site's traffic (HTTPS with a certificate, else HTTP). */
  readonly listener: LbListener;
  readonly siteUrl: string;
  readonly deregistrationDelaySeconds: number;
  readonly healthCheckIntervalSeconds: number;
  readonly healthyThresholdCount: number;

  constructor(scope: Construct, id: string, props: LoadBalancerProps) {
    super(scope, id);
    this.deregistrationDelaySeconds = props.deregistrationDelaySeconds ?? 30;
    this.healthCheckIntervalSeconds = props.healthCheckIntervalSeconds ?? HEALTH_CHECK.intervalSeconds;
    this.healthyThresholdCount = props.healthyThresholdCount ?? HEALTH_CHECK.healthyThresholdCount;
    const healthCheckPath = props.healthCheckPath ?? HEALTH_CHECK.path;

    if (props.namePrefix.length > 25) {
      throw new Error(`namePrefix (${props.namePrefix}) must be at most 25 characters: target group names ("<prefix>-green") are limited to 32`);
    }
    if (this.healthCheckIntervalSeconds < 5 || this.healthCheckIntervalSeconds > 300) {
      throw new Error(`healthCheckIntervalSeconds (${this.healthCheckIntervalSeconds}) must be from 5 to 300`);
    }
    if (this.healthyThresholdCount < 2 || this.healthyThresholdCount > 10) {
      throw new Error(`healthyThresholdCount (${this.healthyThresholdCount}) must be from 2 to 10`);
    }

    this.loadBalancer = new Lb(this, "alb", {
      name: props.namePrefix,
      internal: false,
      loadBalancerType: "application",
      securityGroups: [props.securityGroupId],
      subnets: props.subnetIds,
      dropInvalidHeaderFields: true,
      enableDeletionProtection: props.deletionProtection ?? false,
      idleTimeout: props.idleTimeoutSeconds ?? 60,
    });

    const groups = {} as Record<Color, LbTargetGroup>;
    for (const color of COLORS) {
      groups[color] = new LbTargetGroup(this, `tg-${color}`, {
        name: `${props.namePrefix}-${color}`,
        port: 80,
        protocol: "HTTP",
        targetType: "instance",
        vpcId: props.vpcId,
        deregistrationDelay: String(this.deregistrationDelaySeconds),
        healthCheck: {
          enabled: true,
          path: healthCheckPath,
          protocol: "HTTP",
          matcher: "200",
          interval: this.healthCheckIntervalSeconds,
          timeout: Math.min(5, this.healthCheckIntervalSeconds - 1),
          healthyThreshold: this.healthyThresholdCount,
          unhealthyThreshold: this.healthyThresholdCount,
        },
        tags: { color },
      });
    }
    this.targetGroups = groups;

    const forward: LbListenerDefaultAction = {
      type: "forward",
      forward: {
        targetGroup: COLORS.map((color) => ({ arn: groups[color].arn, weight: props.weights[color] })),
        stickiness: { enabled: false, duration: 1 },
      },
    };

    if (props.certificateArn) {
      this.listener = new LbListener(this, "https", {
        loadBalancerArn: this.loadBalancer.arn,
        port: 443,
        protocol: "HTTPS",
        sslPolicy: TLS_POLICY,
        certificateArn: props.certificateArn,
        defaultAction: [forward],
      });
      new LbListener(this, "http-redirect", {
        loadBalancerArn: this.loadBalancer.arn,
        port: 80,
        protocol: "HTTP",
        defaultAction: [{ type: "redirect", redirect: { protocol: "HTTPS", port: "443", statusCode: "HTTP_301" } }],
      });
      this.siteUrl = `https://${this.loadBalancer.dnsName}/`;
    } else {
      this.listener = new LbListener(this, "http", {
        loadBalancerArn: this.loadBalancer.arn,
        port: 80,
        protocol: "HTTP",
        defaultAction: [forward],
      });
      this.siteUrl = `http://${this.loadBalancer.dnsName}/`;
    }

    COLORS.forEach((color, i) => {
      new LbListenerRule(this, `only-${color}`, {
        listenerArn: this.listener.arn,
        priority: 10 + i,
        condition: [
          { httpHeader: { httpHeaderName: COLOR_HEADER, values: [color] } },
          { httpHeader: { httpHeaderName: SMOKE_KEY_HEADER, values: [props.smokeTestKey] } },
        ],
        action: [{ type: "forward", targetGroupArn: groups[color].arn }],
        tags: { color },
      });
    });
  }
}
