import { Construct } from "constructs";
import { CloudwatchMetricAlarm } from "@cdktf/provider-aws/lib/cloudwatch-metric-alarm";
import { SnsTopic } from "@cdktf/provider-aws/lib/sns-topic";
import { SnsTopicSubscription } from "@cdktf/provider-aws/lib/sns-topic-subscription";
import { COLORS, type Color } from "./names";

export interface AlarmsProps {
  /** Prefix of the alarm and topic names. */
  readonly namePrefix: string;
  /** `arn_suffix` of the load balancer (the CloudWatch dimension). */
  readonly loadBalancerArnSuffix: string;
  /** `arn_suffix` of each color's target group. */
  readonly targetGroupArnSuffixes: Readonly<Record<Color, string>>;
  /**
   * Addresses subscribed to the topic (each must confirm by mail).
   * @default - none
   */
  readonly notificationEmails?: readonly string[];
  /**
   * 5xx responses from a color's targets within one minute that raise its alarm.
   * @default 10
   */
  readonly errorThreshold?: number;
  /**
   * Consecutive one-minute periods a condition must hold before the alarm fires.
   * @default 2
   */
  readonly evaluationPeriods?: number;
}

/**
 * Per color: a 5xx alarm and an unhealthy-hosts alarm on its target group. A deployment group
 * stops and rolls back when one of its color's alarms fires; every alarm and every CodeDeploy
 * trigger goes to one SNS topic.
 */
export class Alarms extends Construct {
  readonly topicArn: string;
  /** Alarm names per color, for the color's deployment group. */
  readonly alarmNames: Record<Color, string[]>;

  constructor(scope: Construct, id: string, props: AlarmsProps) {
    super(scope, id);
    const threshold = props.errorThreshold ?? 10;
    const periods = props.evaluationPeriods ?? 2;
    if (threshold < 1) throw new Error(`errorThreshold (${threshold}) must be >= 1`);
    if (periods < 1) throw new Error(`evaluationPeriods (${periods}) must be >= 1`);

    // No KMS key: CodeDeploy triggers cannot publish to a topic encrypted with the AWS-managed
    // SNS key, and a customer key is more than a notification topic needs.
    const topic = new SnsTopic(this, "topic", { name: `${props.namePrefix}-events` });
    (props.notificationEmails ?? []).forEach((email, i) => {
      new SnsTopicSubscription(this, `email-${i}`, { topicArn: topic.arn, protocol: "email", endpoint: email });
    });
    this.topicArn = topic.arn;

    this.alarmNames = {} as Record<Color, string[]>;
    for (const color of COLORS) {
      const dimensions = { LoadBalancer: props.loadBalancerArnSuffix, TargetGroup: props.targetGroupArnSuffixes[color] };
      const common = {
        namespace: "AWS/ApplicationELB",
        period: 60,
        evaluationPeriods: periods,
        datapointsToAlarm: periods,
        comparisonOperator: "GreaterThanOrEqualToThreshold",
        // An idle color has no targets and no data: that is healthy, not unknown.
        treatMissingData: "notBreaching",
        dimensions,
        alarmActions: [topic.arn],
        okActions: [topic.arn],
        tags: { color },
      };
      const errors = new CloudwatchMetricAlarm(this, `${color}-5xx`, {
        ...common,
        alarmName: `${props.namePrefix}-${color}-5xx`,
        alarmDescription: `${color} targets answered >= ${threshold} 5xx a minute`,
        metricName: "HTTPCode_Target_5XX_Count",
        statistic: "Sum",
        threshold,
      });
      const unhealthy = new CloudwatchMetricAlarm(this, `${color}-unhealthy`, {
        ...common,
        alarmName: `${props.namePrefix}-${color}-unhealthy-hosts`,
        alarmDescription: `${color} target group has unhealthy hosts`,
        metricName: "UnHealthyHostCount",
        statistic: "Maximum",
        threshold: 1,
      });
      this.alarmNames[color] = [errors.alarmName, unhealthy.alarmName];
    }
  }
}
