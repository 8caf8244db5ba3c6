/**
 * The bake: after each switch, the new color's alarms (5xx and unhealthy hosts, from the stack)
 * are watched for a while; an alarm in ALARM rolls the release back. Checked once before each
 * canary step too.
 */
import { DescribeAlarmsCommand, type CloudWatchClient } from "@aws-sdk/client-cloudwatch";

/** The alarms among `names` that are in ALARM now, each with its reason. */
export async function firingAlarms(cloudwatch: CloudWatchClient, names: readonly string[]): Promise<string[]> {
  if (names.length === 0) return [];
  const out = await cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: [...names], StateValue: "ALARM" }));
  return (out.MetricAlarms ?? []).map((a) => `${a.AlarmName}${a.StateReason ? ` (${a.StateReason})` : ""}`);
}
