import { Testing, TerraformStack } from "cdktf";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import type { Construct } from "constructs";
import { parseEnvironment, type EnvironmentConfig } from "../../config/load";

/** Synthesizes one construct in a stack with an AWS provider; returns the JSON string. */
export function synthConstruct(build: (scope: Construct) => void): string {
  return Testing.synthScope((scope) => {
    new AwsProvider(scope, "aws", { region: "us-east-1" });
    build(scope);
  });
}

/** Parses synthesized JSON into the Terraform document. */
export function doc(synth: string): TerraformJson {
  return JSON.parse(synth) as TerraformJson;
}

export interface TerraformJson {
  resource?: Record<string, Record<string, Record<string, unknown>>>;
  data?: Record<string, Record<string, Record<string, unknown>>>;
  output?: Record<string, { value: unknown }>;
  terraform?: { backend?: Record<string, Record<string, unknown>>; required_version?: string };
  provider?: Record<string, Array<Record<string, unknown>>>;
}

/** Every resource of a type, by its logical id. */
export function resources(json: TerraformJson, type: string): Array<Record<string, unknown>> {
  return Object.values(json.resource?.[type] ?? {});
}

/** A minimal valid environment, with overrides merged in. */
export function environment(overrides: Record<string, unknown> = {}, name = "test"): EnvironmentConfig {
  return parseEnvironment(name, `config/${name}.yaml`, {
    region: "us-east-1",
    network: { mode: "existing", vpcId: "vpc-0123456789abcdef0", subnetIds: ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"] },
    capacity: { live: { min: 2, desired: 2, max: 4 }, idle: { min: 0, desired: 0, max: 4 } },
    ami: { blue: { id: "ami-0123456789abcdef0" }, green: { parameter: {} } },
    ...overrides,
  });
}

export function stackOf(app = Testing.app()): TerraformStack {
  return new TerraformStack(app, "test");
}
