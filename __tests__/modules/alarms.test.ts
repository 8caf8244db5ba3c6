import { SnsTopicSubscription } from "@cdktf/provider-aws/lib/sns-topic-subscription";
import { Alarms } from "../../modules/alarms";
import { doc, resources, synthConstruct } from "../helpers/stack";

const props = {
  namePrefix: "webfleet-test",
  loadBalancerArnSuffix: "app/webfleet-test/1",
  targetGroupArnSuffixes: { blue: "targetgroup/blue/1", green: "targetgroup/green/2" },
};

describe("Alarms", () => {
  it("watches 5xx answers and unhealthy hosts of each color's target group", () => {
    let alarms!: Alarms;
    const json = doc(synthConstruct((s) => (alarms = new Alarms(s, "alarms", props))));
    const all = resources(json, "aws_cloudwatch_metric_alarm");
    expect(all.map((a) => a.alarm_name).sort()).toEqual([
      "webfleet-test-blue-5xx",
      "webfleet-test-blue-unhealthy-hosts",
      "webfleet-test-green-5xx",
      "webfleet-test-green-unhealthy-hosts",
    ]);
    const green5xx = all.find((a) => a.alarm_name === "webfleet-test-green-5xx")!;
    expect(green5xx).toMatchObject({
      namespace: "AWS/ApplicationELB",
      metric_name: "HTTPCode_Target_5XX_Count",
      treat_missing_data: "notBreaching",
      dimensions: { LoadBalancer: "app/webfleet-test/1", TargetGroup: "targetgroup/green/2" },
    });
    expect(alarms.alarmNames.blue).toHaveLength(2);
  });

  it("sends alarms to the topic and subscribes the given addresses", () => {
    const out = synthConstruct((s) => new Alarms(s, "alarms", { ...props, notificationEmails: ["ops@example.com"] }));
    expect(out).toHaveResourceWithProperties(SnsTopicSubscription, { protocol: "email", endpoint: "ops@example.com" });
    for (const a of resources(doc(out), "aws_cloudwatch_metric_alarm")) expect(a.alarm_actions).toEqual([expect.stringContaining("aws_sns_topic")]);
  });

  it("refuses a threshold below 1", () => {
    expect(() => synthConstruct((s) => new Alarms(s, "alarms", { ...props, errorThreshold: 0 }))).toThrow("errorThreshold (0) must be >= 1");
  });
});
