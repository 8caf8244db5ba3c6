import { Construct } from "constructs";
import { CodedeployApp } from "@cdktf/provider-aws/lib/codedeploy-app";
import { CodedeployDeploymentConfig } from "@cdktf/provider-aws/lib/codedeploy-deployment-config";
import { type MinimumHealthyHosts, PREDEFINED_STRATEGIES, minHealthyConfigName, minHealthyStrategyKey } from "./names";

export interface CodeDeployApplicationProps {
  /** Environment name, for the names of the application and the custom configs. */
  readonly environment: string;
  /** Application name. */
  readonly applicationName: string;
  /**
   * Custom minimum-healthy-hosts values, each becoming a deployment config.
   * @default - none: only CodeDeploy's AllAtOnce, HalfAtATime and OneAtATime
   */
  readonly minimumHealthyHosts?: readonly MinimumHealthyHosts[];
}

/**
 * The CodeDeploy application (EC2/on-premises, "Server") and a deployment config for each
 * custom minimum-healthy-hosts value, so `release --strategy min-healthy=75%` has one to use.
 */
export class CodeDeployApplication extends Construct {
  readonly applicationName: string;
  /** Strategy key (`all-at-once`, `min-healthy=75%`, ...) → deployment config name. */
  readonly deploymentConfigs: Record<string, string>;

  constructor(scope: Construct, id: string, props: CodeDeployApplicationProps) {
    super(scope, id);
    const custom = props.minimumHealthyHosts ?? [];

    const app = new CodedeployApp(this, "app", { name: props.applicationName, computePlatform: "Server" });
    this.applicationName = app.name;
    this.deploymentConfigs = { ...PREDEFINED_STRATEGIES };

    const seen = new Set<string>();
    for (const m of custom) {
      const key = minHealthyStrategyKey(m);
      if (seen.has(key)) throw new Error(`minimumHealthyHosts lists ${key.slice("min-healthy=".length)} twice; list each value once`);
      seen.add(key);
      if (m.type === "FLEET_PERCENT" && (m.value < 1 || m.value > 99)) {
        throw new Error(`minimumHealthyHosts (${m.value}%) must be a fleet percent from 1% to 99%`);
      }
      if (m.type === "HOST_COUNT" && (!Number.isInteger(m.value) || m.value < 0)) {
        throw new Error(`minimumHealthyHosts (${m.value}) must be a host count >= 0`);
      }
      const config = new CodedeployDeploymentConfig(this, `config-${key.replace(/[^a-z0-9]+/g, "-")}`, {
        deploymentConfigName: minHealthyConfigName(props.environment, m),
        computePlatform: "Server",
        minimumHealthyHosts: { type: m.type, value: m.value },
      });
      this.deploymentConfigs[key] = config.deploymentConfigName;
    }
  }
}
