import { formatSummary, summarize } from "../../scripts/synth";

describe("the synth summary", () => {
  it("counts resources by type and names the backend, data sources and outputs", () => {
    const s = summarize("webfleet-prod", {
      resource: { aws_lb: { alb: {} }, aws_autoscaling_group: { blue: {}, green: {} } },
      data: { aws_availability_zones: { azs: {} } },
      output: { site_url: {} },
      terraform: { backend: { s3: { bucket: "team-state", key: "webfleet/prod/webfleet-prod.tfstate" } } },
    });
    expect(s).toEqual({
      stack: "webfleet-prod",
      resources: 3,
      byType: { aws_lb: 1, aws_autoscaling_group: 2 },
      dataSources: ["aws_availability_zones"],
      backend: "s3://team-state/webfleet/prod/webfleet-prod.tfstate",
      outputs: ["site_url"],
    });
    expect(formatSummary(s)).toBe(
      [
        "webfleet-prod: 3 resources, state s3://team-state/webfleet/prod/webfleet-prod.tfstate",
        "  autoscaling_group×2, lb×1",
        "  reads: aws_availability_zones",
        "  outputs: site_url",
      ].join("\n"),
    );
  });

  it("says so when a stack reads no data source and keeps local state", () => {
    expect(formatSummary(summarize("b", { resource: {} }))).toBe("b: 0 resources, state local\n  reads no data source");
  });
});
