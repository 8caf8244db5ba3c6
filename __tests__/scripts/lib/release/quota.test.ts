/** The vCPUs both colors need at once during blue/green and canary, against the account's quota. */
import { mockClient } from "aws-sdk-client-mock";
import { GetServiceQuotaCommand, ServiceQuotasClient } from "@aws-sdk/client-service-quotas";
import { approxVcpus, capacityLine, onDemandQuota } from "../../../../scripts/lib/release/quota";

describe("the vCPUs both colors need", () => {
  test.each`
    type             | vcpus
    ${"t3.micro"}    | ${2}
    ${"t4g.micro"}   | ${2}
    ${"t3.medium"}   | ${2}
    ${"m7g.medium"}  | ${1}
    ${"m7g.large"}   | ${2}
    ${"c7i.xlarge"}  | ${4}
    ${"r7g.4xlarge"} | ${16}
    ${"weird"}       | ${undefined}
  `("approximates $type offline as $vcpus", ({ type, vcpus }) => {
    expect(approxVcpus(type)).toBe(vcpus);
  });

  it("GIVEN 4 m7g.large live THEN both colors need 16 vCPUs, and a quota of 8 is called out", () => {
    expect(capacityLine(4, "m7g.large", 2, 8, false)).toBe(
      "both colors at once: 8 × m7g.large = 16 vCPUs; the account's On-Demand standard quota here: 8 vCPUs, shared with its other instances — OVER the quota: the scale-up would stop short; raise it first (Service Quotas ec2 L-1216C47A)",
    );
    expect(capacityLine(4, "m7g.large", 2, 64, false)).not.toContain("OVER");
  });

  it("GIVEN no AWS THEN it names the quota to check, and says the count is approximate", () => {
    expect(capacityLine(20, "t3.micro", 2, undefined, true)).toBe(
      "both colors at once: 40 × t3.micro ≈ 80 vCPUs; check the account's On-Demand standard vCPU quota (Service Quotas ec2 L-1216C47A), which other instances share",
    );
  });

  it("reads the quota from Service Quotas, and says why when it cannot", async () => {
    const client = new ServiceQuotasClient({ region: "us-east-1" });
    const mock = mockClient(client);
    mock.on(GetServiceQuotaCommand, { ServiceCode: "ec2", QuotaCode: "L-1216C47A" }).resolves({ Quota: { Value: 32 } });
    expect(await onDemandQuota(client)).toBe(32);
    mock.on(GetServiceQuotaCommand).rejects(Object.assign(new Error("no"), { name: "AccessDeniedException" }));
    expect(await onDemandQuota(client)).toBe("AccessDeniedException reading it");
  });
});
