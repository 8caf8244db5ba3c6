/**
 * Blue/green and canary run both colors at full size at once. Whether the account has room is a
 * question of vCPUs: "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances" is a
 * per-region quota in vCPUs (Service Quotas code L-1216C47A; new accounts often start low).
 */
import { DescribeInstanceTypesCommand, type EC2Client } from "@aws-sdk/client-ec2";
import { GetServiceQuotaCommand, type ServiceQuotasClient } from "@aws-sdk/client-service-quotas";
import { errorName } from "../aws/errors";

export const ON_DEMAND_STANDARD_QUOTA_CODE = "L-1216C47A";

/**
 * vCPUs of an instance type from its size alone, for an offline preview: nano…large have 2
 * (medium 1 on Graviton and most current families except t), xlarge 4, Nxlarge 4N. An
 * approximation, shown as one; the real count comes from EC2 when AWS is reachable.
 */
export function approxVcpus(instanceType: string): number | undefined {
  const [family, size] = instanceType.split(".");
  if (!family || !size) return undefined;
  if (size === "medium") return family.startsWith("t") ? 2 : 1;
  if (["nano", "micro", "small", "large"].includes(size)) return 2;
  if (size === "xlarge") return 4;
  const m = /^(\d+)xlarge$/.exec(size);
  return m ? 4 * Number(m[1]) : undefined;
}

export async function vcpusOf(ec2: EC2Client, instanceType: string): Promise<number | undefined> {
  const out = await ec2.send(new DescribeInstanceTypesCommand({ InstanceTypes: [instanceType as never] }));
  return out.InstanceTypes?.[0]?.VCpuInfo?.DefaultVCpus;
}

/** The account's On-Demand standard vCPU quota in this region; a reason when it cannot be read. */
export async function onDemandQuota(quotas: ServiceQuotasClient): Promise<number | string> {
  try {
    const out = await quotas.send(new GetServiceQuotaCommand({ ServiceCode: "ec2", QuotaCode: ON_DEMAND_STANDARD_QUOTA_CODE }));
    return out.Quota?.Value ?? "no value returned";
  } catch (e) {
    return `${errorName(e) || "error"} reading it`;
  }
}

/** "both colors at once: 8 × t3.micro = 16 vCPUs; the account's On-Demand standard quota: 32 vCPUs" */
export function capacityLine(
  fleetSize: number,
  instanceType: string,
  vcpus: number | undefined,
  quota: number | string | undefined,
  approximate: boolean,
): string {
  const total = vcpus === undefined ? undefined : 2 * fleetSize * vcpus;
  const need = `both colors at once: ${2 * fleetSize} × ${instanceType}${total === undefined ? " (vCPUs unknown)" : ` ${approximate ? "≈" : "="} ${total} vCPUs`}`;
  if (quota === undefined)
    return `${need}; check the account's On-Demand standard vCPU quota (Service Quotas ec2 ${ON_DEMAND_STANDARD_QUOTA_CODE}), which other instances share`;
  if (typeof quota === "string") return `${need}; the On-Demand standard vCPU quota could not be read (${quota})`;
  const warn =
    total !== undefined && total > quota
      ? ` — OVER the quota: the scale-up would stop short; raise it first (Service Quotas ec2 ${ON_DEMAND_STANDARD_QUOTA_CODE})`
      : "";
  return `${need}; the account's On-Demand standard quota here: ${quota} vCPUs, shared with its other instances${warn}`;
}
