/**
 * Traffic, owned by the release: one ModifyListener call sets both colors' weights in the
 * listener's forward action (the shape Terraform declares: a forward block with both target
 * groups and stickiness off), then the same weights go to their SSM parameters, from which
 * Terraform reads them back: the next plan, by anyone, agrees with what the release did.
 */
import { ModifyListenerCommand, DescribeListenersCommand, type ElasticLoadBalancingV2Client } from "@aws-sdk/client-elastic-load-balancing-v2";
import { PutParameterCommand, type SSMClient } from "@aws-sdk/client-ssm";
import { COLORS, releaseParameters, type Color, type PublishedStack } from "../../../../modules/names";
import { CliError } from "../../cli/errors";
import { healthyTargets } from "./capacity";

export interface TrafficClients {
  readonly elb: ElasticLoadBalancingV2Client;
  readonly ssm: SSMClient;
}

export type Weights = Readonly<Record<Color, number>>;

export function formatWeights(w: Weights): string {
  return COLORS.map((c) => `${c} ${w[c]}`).join(" / ");
}

/** The weights the listener forwards with now. */
export async function listenerWeights(elb: ElasticLoadBalancingV2Client, stack: PublishedStack): Promise<Weights> {
  const out = await elb.send(new DescribeListenersCommand({ ListenerArns: [stack.listenerArn] }));
  const groups = out.Listeners?.[0]?.DefaultActions?.find((a) => a.Type === "forward")?.ForwardConfig?.TargetGroups ?? [];
  const weight = (c: Color) => groups.find((g) => g.TargetGroupArn === stack.fleets[c].targetGroupArn)?.Weight ?? 0;
  return { blue: weight("blue"), green: weight("green") };
}

/**
 * Refuses weights that would send traffic to a color with no healthy instance (checked just
 * before the switch), or weights that are not two whole numbers adding up to 100.
 */
export async function checkTrafficTarget(elb: ElasticLoadBalancingV2Client, stack: PublishedStack, weights: Weights): Promise<void> {
  if (COLORS.some((c) => !Number.isInteger(weights[c]) || weights[c] < 0) || weights.blue + weights.green !== 100) {
    throw new CliError(`weights ${formatWeights(weights)} must be whole numbers adding up to 100`);
  }
  for (const color of COLORS) {
    if (weights[color] > 0 && (await healthyTargets(elb, stack, color)).length === 0) {
      throw new CliError(`${color} has no healthy instance in its target group: traffic must not go there (weights ${formatWeights(weights)} refused)`);
    }
  }
}

/** Sets the listener's weights (one call), then records them in SSM. */
export async function switchWeights(clients: TrafficClients, stack: PublishedStack, weights: Weights): Promise<void> {
  await setListenerWeights(clients.elb, stack, weights);
  await recordWeights(clients.ssm, stack.environment, weights);
}

/** The one ModifyListener call that moves traffic (what serves users); SSM's record is {@link recordWeights}. */
export async function setListenerWeights(elb: ElasticLoadBalancingV2Client, stack: PublishedStack, weights: Weights): Promise<void> {
  await elb.send(
    new ModifyListenerCommand({
      ListenerArn: stack.listenerArn,
      DefaultActions: [
        {
          Type: "forward",
          ForwardConfig: {
            TargetGroups: COLORS.map((c) => ({ TargetGroupArn: stack.fleets[c].targetGroupArn, Weight: weights[c] })),
            // As Terraform declares it (modules/load-balancer.ts), so its next plan sees no change.
            TargetGroupStickinessConfig: { Enabled: false, DurationSeconds: 1 },
          },
        },
      ],
    }),
  );
}

/** Writes the weights to their SSM parameters (Terraform created them; it reads them back). */
export async function recordWeights(ssm: SSMClient, env: string, weights: Weights): Promise<void> {
  for (const color of COLORS) {
    await ssm.send(new PutParameterCommand({ Name: releaseParameters(env).weight(color), Value: String(weights[color]), Type: "String", Overwrite: true }));
  }
}

/** Records the color that serves traffic (Terraform gives it the live role's min/max). */
export async function recordLiveColor(ssm: SSMClient, env: string, color: Color): Promise<void> {
  await ssm.send(new PutParameterCommand({ Name: releaseParameters(env).liveColor, Value: color, Type: "String", Overwrite: true }));
}
