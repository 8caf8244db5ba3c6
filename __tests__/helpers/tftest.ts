/**
 * Pieces of the `.tftest.hcl` files that plan a synthesized webfleet stack offline
 * (DESIGN.md: "What can be checked offline"): the mocked AWS provider with a value for every
 * data source a stack reads, and fixed ARNs for the target groups so that the listener's
 * weights can be asserted per color at plan time.
 */
import { COLORS, type Color } from "../../modules/names";
import { RELEASE_LOCK_DATA } from "../../modules/release-lock";
import type { WebfleetStack } from "../../modules/webfleet-stack";
import { FAKE_ACCOUNT } from "./fake-aws-endpoint";
import { addressOf, hcl } from "./terraform";

/** The lock read, as a .tftest.hcl addresses it. */
export const LOCK_DATA_ADDRESS = `data.aws_ssm_parameters_by_path.${RELEASE_LOCK_DATA}`;

/** Zones the mocked region has, each offering every instance type. */
export const mockZones = (region: string) => ["a", "b", "c"].map((z) => `${region}${z}`);

/** The default VPC's default subnets in the mocked account, one per zone. */
export const MOCK_DEFAULT_SUBNETS = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2", "subnet-0ccccccccccccccc3"];

/**
 * `mock_provider "aws"` with a value for each data source a stack may read: the lock is free
 * (the mock's empty lists), the account is {@link FAKE_ACCOUNT}, the region has three zones that
 * offer the instance type, and the default VPC has a default subnet in each.
 */
export function mockAwsProvider(region: string): string {
  const zones = mockZones(region);
  return `mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = ${hcl(FAKE_ACCOUNT)} }
  }
  mock_data "aws_availability_zones" {
    defaults = { names = ${hcl(zones)} }
  }
  mock_data "aws_ec2_instance_type_offerings" {
    defaults = { locations = ${hcl(zones)} }
  }
  mock_data "aws_vpc" {
    defaults = { id = "vpc-0aaaaaaaaaaaaaaa0" }
  }
  mock_data "aws_subnets" {
    defaults = { ids = ${hcl(MOCK_DEFAULT_SUBNETS)} }
  }
}
`;
}

/** The ARN each color's target group gets in the plan (see {@link targetGroupOverrides}). */
export const targetGroupArn = (color: Color) => `arn:aws:elasticloadbalancing:us-east-1:${FAKE_ACCOUNT}:targetgroup/${color}/${COLORS.indexOf(color) + 1}`;

/**
 * Known target group ARNs during plan (an ARN is otherwise known only after apply), so that a
 * run can assert which target group the listener gives which weight.
 */
export function targetGroupOverrides(stack: WebfleetStack): string {
  return COLORS.map(
    (color) => `override_resource {
  target          = ${addressOf(stack.loadBalancer.targetGroups[color])}
  override_during = plan
  values          = { arn = ${hcl(targetGroupArn(color))} }
}
`,
  ).join("");
}

/** The listener's forward weights by target group ARN, as an HCL expression. */
export function listenerWeights(stack: WebfleetStack): string {
  return `{ for g in one(${addressOf(stack.loadBalancer.listener)}.default_action).forward[0].target_group : g.arn => g.weight }`;
}

/** The weights a run expects, keyed as {@link listenerWeights}. */
export function expectedWeights(weights: Readonly<Record<Color, number>>): string {
  return hcl(Object.fromEntries(COLORS.map((c) => [targetGroupArn(c), weights[c]])));
}

/** `override_data` that makes the lock read return a holder (its JSON) under `lockHolder`. */
export function lockOverride(lockHolderName: string, holder: object): string {
  return `  override_data {
    target = ${LOCK_DATA_ADDRESS}
    values = { names = ${hcl([lockHolderName])}, values = ${hcl([JSON.stringify(holder)])} }
  }
`;
}

/** An `assert` block. */
export function assertBlock(condition: string, errorMessage: string): string {
  return `  assert {
    condition     = ${condition}
    error_message = ${errorMessage}
  }
`;
}
