import { App, Testing } from "cdktf";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { bootstrapFirstRunFromEnv } from "../../main";
import { bootstrapStateHome, StateBootstrapStack } from "../../modules/state-bootstrap-stack";
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

  it("asks for the Terraform that has S3's lock file, so an older one names the version it needs", () => {
    const stack = stackOf();
    stack.addOverride("terraform.required_version", ">= 1.9.0");
    configureStateBackend(
      stack,
      { type: "s3", bucket: "team-state", keyPrefix: "webfleet" },
      { environment: "prod", stackName: "webfleet-prod", defaultRegion: "eu-west-1" },
    );
    expect(doc(Testing.synth(stack)).terraform?.required_version).toBe(">= 1.10.0");
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
    expect(doc(Testing.synth(stack)).terraform?.required_version).toBeUndefined();
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

  const buckets = [
    { bucket: "team-state", region: "eu-west-1" },
    { bucket: "b-team-state", region: "us-east-1" },
  ];
  const bootstrap = (firstRun?: boolean) => doc(Testing.synth(new StateBootstrapStack(Testing.app() as App, "bootstrap", { buckets, firstRun })));

  it("keeps its own state in the bucket it created, so a run from another checkout finds the bucket instead of creating it again", () => {
    // GIVEN two state buckets THEN the bootstrap's state lives in the one whose name sorts first, locked
    expect(bootstrap().terraform?.backend).toEqual({
      s3: { bucket: "b-team-state", key: "webfleet/webfleet-state-bootstrap.tfstate", region: "us-east-1", encrypt: true, use_lockfile: true },
    });
    expect(bootstrap().terraform?.required_version).toBe(">= 1.10.0");
    expect(bootstrapStateHome([...buckets].reverse()).bucket).toBe("b-team-state");
  });

  it("keeps its state local only on the very first run, with the same resource addresses, so the next run moves that state into the bucket", () => {
    // GIVEN the first run (no bucket exists yet) THEN the state is local
    const first = bootstrap(true);
    expect(first.terraform?.backend?.s3).toBeUndefined();
    // AND every address is the same as in a later run: --migrate-state carries each resource over
    const addresses = (json: ReturnType<typeof doc>) =>
      Object.entries(json.resource ?? {}).flatMap(([type, byName]) => Object.keys(byName).map((n) => `${type}.${n}`));
    expect(addresses(first).sort()).toEqual(addresses(bootstrap()).sort());
    expect(addresses(first).length).toBeGreaterThan(0);
  });

  test.each([
    [{}, false],
    [{ WEBFLEET_BOOTSTRAP_FIRST_RUN: "1" }, true],
  ])("reads the first run from the environment: %j", (env, firstRun) => {
    expect(bootstrapFirstRunFromEnv(env)).toBe(firstRun);
  });

  it("refuses any other value of WEBFLEET_BOOTSTRAP_FIRST_RUN, naming it and what is valid", () => {
    expect(() => bootstrapFirstRunFromEnv({ WEBFLEET_BOOTSTRAP_FIRST_RUN: "yes" })).toThrow(
      'WEBFLEET_BOOTSTRAP_FIRST_RUN: must be 1 (the first run of webfleet-state-bootstrap, before its bucket exists) or unset (got "yes")',
    );
  });
});
