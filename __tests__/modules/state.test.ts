import { App, Testing } from "cdktf";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { StateBootstrapStack } from "../../modules/state-bootstrap-stack";
import { configureStateBackend, stateKey } from "../../modules/state-backend";
import { doc, resources, stackOf } from "../helpers/stack";

describe("state backend", () => {
  it("keeps an S3 state per environment and stack, encrypted, locked with S3's lock file", () => {
    const stack = stackOf();
    configureStateBackend(
      stack,
      { type: "s3", bucket: "team-state", keyPrefix: "webfleet" },
      { environment: "prod", stackName: "webfleet-prod", defaultRegion: "eu-west-1" },
    );
    const backend = doc(Testing.synth(stack)).terraform?.backend?.s3;
    expect(backend).toEqual({ bucket: "team-state", key: "webfleet/prod/webfleet-prod.tfstate", region: "eu-west-1", encrypt: true, use_lockfile: true });
  });

  it("locks in DynamoDB instead when a table is named (Terraform < 1.10)", () => {
    const stack = stackOf();
    configureStateBackend(
      stack,
      { type: "s3", bucket: "team-state", keyPrefix: "wf", region: "us-west-2", dynamodbTable: "locks" },
      { environment: "dev", stackName: "webfleet-dev", defaultRegion: "eu-west-1" },
    );
    const backend = doc(Testing.synth(stack)).terraform?.backend?.s3;
    expect(backend).toMatchObject({ region: "us-west-2", dynamodb_table: "locks" });
    expect(backend?.use_lockfile).toBeUndefined();
  });

  it("leaves cdktf's local state alone for a local backend", () => {
    const stack = stackOf();
    configureStateBackend(stack, { type: "local" }, { environment: "dev", stackName: "webfleet-dev", defaultRegion: "eu-west-1" });
    expect(doc(Testing.synth(stack)).terraform?.backend?.s3).toBeUndefined();
    expect(stateKey("a/b", "dev", "s")).toBe("a/b/dev/s.tfstate");
  });
});

describe("StateBootstrapStack", () => {
  it("creates each named state bucket once, protected from destroy, in its own region", () => {
    const app = Testing.app() as App;
    const stack = new StateBootstrapStack(app, "bootstrap", {
      buckets: [
        { bucket: "team-state", region: "eu-west-1" },
        { bucket: "team-state", region: "eu-west-1" },
        { bucket: "us-state", region: "us-east-1" },
      ],
    });
    const out = Testing.synth(stack);
    expect(out).toHaveResourceWithProperties(S3Bucket, { bucket: "team-state", lifecycle: { prevent_destroy: true } });
    const json = doc(out);
    expect(resources(json, "aws_s3_bucket")).toHaveLength(2);
    expect(json.provider?.aws).toHaveLength(2);
    const us = resources(json, "aws_s3_bucket").find((b) => b.bucket === "us-state")!;
    expect(us.provider).toBe("aws.us_east_1");
  });
});
