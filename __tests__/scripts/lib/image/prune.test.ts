/**
 * `npm run ami:prune`: which AMIs stay and why (one case per kind of reference and per keep
 * rule), reads that span several pages, throttling and eventual consistency around the
 * deletions, partial failures reported per image, and a dry run that changes nothing. Against an
 * in-memory account behind mocked SDK clients.
 */
import { parse } from "@cdktf/hcl2json";
import { EventEmitter } from "node:events";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DescribeAutoScalingGroupsCommand } from "@aws-sdk/client-auto-scaling";
import { GetParametersCommand } from "@aws-sdk/client-ssm";
import { DeleteSnapshotCommand, DeregisterImageCommand, DescribeImagesCommand, DescribeInstancesCommand, EC2Client } from "@aws-sdk/client-ec2";
import { Readable } from "node:stream";
import { awsClientConfig } from "../../../../scripts/lib/aws/clients";
import {
  configReferences,
  deleteImages,
  formatPruneResult,
  IMAGE_TAGS,
  listImages,
  planPrune,
  pruneExitCode,
  pruneImages,
  pruneJson,
  referencesOfEnvironments,
  type PrunePolicy,
  type PruneResult,
} from "../../../../scripts/lib/image/prune";
import { PACKER_DIR } from "../../../../scripts/lib/image/packer";
import { CliError, EXIT } from "../../../../scripts/lib/cli/errors";
import { executeCommand } from "../../../../scripts/lib/cli/command";
import { checkKeepRule, command as amiPrune } from "../../../../scripts/ami-prune";
import { loadEnvironment, loadEnvironments } from "../../../../config/load";
import { awsError, FakeAccount } from "../../../helpers/fake-account";
import { tempConfigDir, removeTempDirs } from "../../../helpers/fake-packer";

afterAll(removeTempDirs);

const NOW = Date.parse("2025-06-01T12:00:00Z");
const DAY = 86_400_000;
const ago = (days: number) => new Date(NOW - days * DAY).toISOString();

/** Five AMIs of dev, 1 to 30 days old, and one of prod. */
function account(): FakeAccount {
  const a = new FakeAccount();
  const image = (id: string, days: number, env = "dev") =>
    a.addImage({ id, name: `webfleet-${env}-al2023-x86_64-${days}d`, created: ago(days), env, snapshots: [`snap-${id.slice(4)}`] });
  image("ami-00000000000000001", 1);
  image("ami-00000000000000002", 3);
  image("ami-00000000000000003", 10);
  image("ami-00000000000000004", 20);
  image("ami-00000000000000005", 30);
  image("ami-0000000000000000f", 100, "prod");
  return a;
}

const DEV_PARAMETERS = ["/webfleet/dev/ami/blue", "/webfleet/dev/ami/green"];
const policy = (o: Partial<PrunePolicy> = {}): PrunePolicy => ({ keep: 2, minAgeSeconds: 7 * 86400, minAgeText: "7d", parameters: DEV_PARAMETERS, ...o });
const IMG4 = "ami-00000000000000004";

async function verdicts(a: FakeAccount, p: PrunePolicy = policy()) {
  const plan = await planPrune(a, "dev", "us-east-1", p, NOW);
  return Object.fromEntries(plan.images.map((i) => [i.imageId, i]));
}

function template(a: FakeAccount, id: string, versions: Record<number, string>, defaultVersion = 1) {
  a.templates.set(id, { id, name: `${id}-name`, versions: new Map(Object.entries(versions).map(([k, v]) => [Number(k), v])), defaultVersion });
}

describe("which AMIs stay", () => {
  it("GIVEN nothing refers to them THEN the newest 2 stay and the older ones beyond them go, each with its reasons", async () => {
    const v = await verdicts(account());
    expect(Object.keys(v)).toEqual([
      "ami-00000000000000001",
      "ami-00000000000000002",
      "ami-00000000000000003",
      "ami-00000000000000004",
      "ami-00000000000000005",
    ]);
    expect(v["ami-00000000000000001"]).toMatchObject({ action: "keep", reasons: ["newest 2", "younger than 7d"] });
    expect(v["ami-00000000000000002"]).toMatchObject({ action: "keep", reasons: ["newest 2", "younger than 7d"] });
    expect(v["ami-00000000000000003"]).toMatchObject({
      action: "delete",
      reasons: ["not among the newest 2", "older than 7d", "not in use"],
      snapshotIds: ["snap-00000000000000003"],
    });
    expect(v[IMG4].action).toBe("delete");
    expect(v["ami-00000000000000005"].action).toBe("delete");
  });

  test.each`
    kind                                        | given                                                                                                                                                                                                                 | reason
    ${"the blue AMI parameter"}                 | ${(a: FakeAccount) => a.params.set("/webfleet/dev/ami/blue", IMG4)}                                                                                                                                                   | ${"in SSM /webfleet/dev/ami/blue"}
    ${"the green AMI parameter"}                | ${(a: FakeAccount) => a.params.set("/webfleet/dev/ami/green", IMG4)}                                                                                                                                                  | ${"in SSM /webfleet/dev/ami/green"}
    ${"a parameter through resolve:ssm:"}       | ${(a: FakeAccount) => (a.params.set("/webfleet/dev/ami/blue", "resolve:ssm:/team/golden-ami"), a.params.set("/team/golden-ami", IMG4))}                                                                               | ${"in SSM /webfleet/dev/ami/blue (via /team/golden-ami)"}
    ${"a launch template version a group uses"} | ${(a: FakeAccount) => (template(a, "lt-0aaa", { 6: "ami-x", 7: IMG4 }), a.groups.set("webfleet-dev-green", { name: "webfleet-dev-green", tags: {}, launchTemplate: { id: "lt-0aaa", version: "7" } }))}               | ${"launch template lt-0aaa v7 of webfleet-dev-green"}
    ${"$Latest, resolved"}                      | ${(a: FakeAccount) => (template(a, "lt-0aaa", { 8: "ami-x", 9: IMG4 }), a.groups.set("g", { name: "g", tags: {}, launchTemplate: { id: "lt-0aaa", version: "$Latest" } }))}                                           | ${"launch template lt-0aaa v9 of g"}
    ${"$Default, resolved"}                     | ${(a: FakeAccount) => (template(a, "lt-0aaa", { 3: IMG4, 9: "ami-x" }, 3), a.groups.set("g", { name: "g", tags: {}, launchTemplate: { id: "lt-0aaa", version: "$Default" } }))}                                       | ${"launch template lt-0aaa v3 of g"}
    ${"a template whose image is resolve:ssm:"} | ${(a: FakeAccount) => (template(a, "lt-0bbb", { 2: "resolve:ssm:/team/web-ami" }), a.params.set("/team/web-ami", IMG4), a.groups.set("g", { name: "g", tags: {}, launchTemplate: { id: "lt-0bbb", version: "2" } }))} | ${"launch template lt-0bbb v2 of g (via SSM /team/web-ami)"}
    ${"a mixed-instances group's template"}     | ${(a: FakeAccount) => (template(a, "lt-0ccc", { 1: IMG4 }), a.groups.set("g", { name: "g", tags: {}, mixedTemplate: { id: "lt-0ccc", version: "1" } }))}                                                              | ${"launch template lt-0ccc v1 of g"}
    ${"a launch configuration"}                 | ${(a: FakeAccount) => (a.launchConfigurations.set("old-lc", IMG4), a.groups.set("g", { name: "g", tags: {}, launchConfiguration: "old-lc" }))}                                                                        | ${"launch configuration old-lc of g"}
    ${"a running instance"}                     | ${(a: FakeAccount) => a.instances.set("i-1", { id: "i-1", imageId: IMG4, state: "running" })}                                                                                                                         | ${"instance i-1 (running)"}
    ${"a stopped instance"}                     | ${(a: FakeAccount) => a.instances.set("i-1", { id: "i-1", imageId: IMG4, state: "stopped" })}                                                                                                                         | ${"instance i-1 (stopped)"}
    ${"a pending instance"}                     | ${(a: FakeAccount) => a.instances.set("i-1", { id: "i-1", imageId: IMG4, state: "pending" })}                                                                                                                         | ${"instance i-1 (pending)"}
  `("GIVEN $kind refers to an old AMI THEN it stays: $reason", async ({ given, reason }) => {
    const a = account();
    given(a);
    const v = await verdicts(a);
    expect(v[IMG4]).toMatchObject({ action: "keep", reasons: [reason] });
    expect(v["ami-00000000000000005"].action).toBe("delete");
  });

  test.each`
    kind                                                   | given
    ${"a terminated instance"}                             | ${(a: FakeAccount) => a.instances.set("i-1", { id: "i-1", imageId: IMG4, state: "terminated" })}
    ${"a shutting-down instance"}                          | ${(a: FakeAccount) => a.instances.set("i-1", { id: "i-1", imageId: IMG4, state: "shutting-down" })}
    ${"a template version no group uses"}                  | ${(a: FakeAccount) => (template(a, "lt-0aaa", { 7: IMG4, 8: "ami-x" }), a.groups.set("g", { name: "g", tags: {}, launchTemplate: { id: "lt-0aaa", version: "8" } }))}
    ${"a group whose template is gone"}                    | ${(a: FakeAccount) => a.groups.set("g", { name: "g", tags: {}, launchTemplate: { id: "lt-0gone", version: "1" } })}
    ${"a parameter that is not a release-state parameter"} | ${(a: FakeAccount) => a.params.set("/someone/else", IMG4)}
  `("GIVEN only $kind THEN the old AMI is not in use and goes", async ({ given }) => {
    const a = account();
    given(a);
    expect((await verdicts(a))[IMG4]).toMatchObject({ action: "delete", reasons: ["not among the newest 2", "older than 7d", "not in use"] });
  });

  it("GIVEN an environment file pins an AMI THEN it stays, and the parameters of every environment in the region count", () => {
    const dir = tempConfigDir();
    const refs = configReferences(
      ["dev", "pinned", "graviton"].map((e) => loadEnvironment(e, dir)),
      "us-east-1",
    );
    expect(refs.parameters).toEqual(["/webfleet/dev/ami/blue", "/webfleet/dev/ami/green", "/webfleet/pinned/ami/green"]);
    expect(refs.pinned).toEqual([{ imageId: "ami-0bbbbbbbbbbbbbbbb", where: expect.stringMatching(/pinned\.yaml \(ami\.blue\)$/) }]);
  });

  it("GIVEN a pinned AMI and another environment's parameter THEN both keep theirs", async () => {
    const a = account();
    a.params.set("/webfleet/qa/ami/blue", "ami-00000000000000005");
    const v = await verdicts(
      a,
      policy({ parameters: [...DEV_PARAMETERS, "/webfleet/qa/ami/blue"], pinned: [{ imageId: IMG4, where: "config/pinned.yaml (ami.blue)" }] }),
    );
    expect(v[IMG4].reasons).toEqual(["pinned in config/pinned.yaml (ami.blue)"]);
    expect(v["ami-00000000000000005"].reasons).toEqual(["in SSM /webfleet/qa/ami/blue"]);
  });

  it("GIVEN several references THEN every one is listed", async () => {
    const a = account();
    a.params.set("/webfleet/dev/ami/blue", IMG4);
    a.params.set("/webfleet/dev/ami/green", IMG4);
    a.instances.set("i-1", { id: "i-1", imageId: IMG4, state: "running" });
    a.instances.set("i-2", { id: "i-2", imageId: IMG4, state: "stopped" });
    expect((await verdicts(a))[IMG4].reasons).toEqual([
      "in SSM /webfleet/dev/ami/blue",
      "in SSM /webfleet/dev/ami/green",
      "instance i-1 (running)",
      "instance i-2 (stopped)",
    ]);
  });

  test.each`
    rule                               | p                                                                  | deleted
    ${"keep 2, no age rule"}           | ${policy({ minAgeSeconds: undefined, minAgeText: undefined })}     | ${["3", "4", "5"]}
    ${"keep 2, min age 15d"}           | ${policy({ minAgeSeconds: 15 * 86400, minAgeText: "15d" })}        | ${["4", "5"]}
    ${"keep 4, min age 7d"}            | ${policy({ keep: 4 })}                                             | ${["5"]}
    ${"keep 0, min age 7d"}            | ${policy({ keep: 0 })}                                             | ${["3", "4", "5"]}
    ${"keep 0, min age 2d"}            | ${policy({ keep: 0, minAgeSeconds: 2 * 86400, minAgeText: "2d" })} | ${["2", "3", "4", "5"]}
    ${"keep 10 (more than there are)"} | ${policy({ keep: 10 })}                                            | ${[]}
  `("$rule deletes $deleted", async ({ p, deleted }) => {
    const v = await verdicts(account(), p);
    const gone = Object.values(v)
      .filter((i) => i.action === "delete")
      .map((i) => i.imageId.slice(-1));
    expect(gone).toEqual(deleted);
  });

  it("GIVEN min age 15d THEN a 10-day-old AMI beyond the newest stays as younger than 15d", async () => {
    const v = await verdicts(account(), policy({ minAgeSeconds: 15 * 86400, minAgeText: "15d" }));
    expect(v["ami-00000000000000003"]).toMatchObject({ action: "keep", reasons: ["younger than 15d"] });
  });

  it("GIVEN an AMI Packer is still creating THEN it stays, whatever its age", async () => {
    const a = account();
    a.addImage({ id: "ami-0000000000000000a", name: "in-progress", created: ago(60), env: "dev", snapshots: [], state: "pending" });
    expect((await verdicts(a))["ami-0000000000000000a"]).toMatchObject({ action: "keep", reasons: ["still being created (pending)"] });
  });

  it("GIVEN the teardown's groups are destroyed first THEN their instances and templates do not count", async () => {
    const a = account();
    template(a, "lt-0aaa", { 1: IMG4 });
    a.groups.set("webfleet-dev-blue", { name: "webfleet-dev-blue", tags: {}, launchTemplate: { id: "lt-0aaa", version: "1" } });
    a.instances.set("i-1", { id: "i-1", imageId: IMG4, state: "running", group: "webfleet-dev-blue" });
    a.instances.set("i-2", { id: "i-2", imageId: "ami-00000000000000005", state: "running", group: "someone-elses" });
    const v = await verdicts(a, policy({ keep: 0, minAgeSeconds: undefined, parameters: [], destroyedFirst: ["webfleet-dev-blue"] }));
    expect(v[IMG4].action).toBe("delete");
    expect(v["ami-00000000000000005"]).toMatchObject({ action: "keep", reasons: ["instance i-2 (running)"] });
  });
});

describe("the environment files' references", () => {
  /** `npm run ami:prune` in this process, with config/ at `dir`; no AWS is reached before a refusal. */
  async function prune(dir: string, argv: string[]) {
    const out = { text: "", write: (t: string) => ((out.text += t), true) };
    const err = { text: "", write: (t: string) => ((err.text += t), true) };
    const saved = process.env.WEBFLEET_CONFIG_DIR;
    process.env.WEBFLEET_CONFIG_DIR = dir;
    try {
      const code = await executeCommand(amiPrune, argv, { stdout: out, stderr: err, signals: new EventEmitter() as never, exit: () => undefined });
      return { code, stdout: out.text, stderr: err.text };
    } finally {
      if (saved === undefined) delete process.env.WEBFLEET_CONFIG_DIR;
      else process.env.WEBFLEET_CONFIG_DIR = saved;
    }
  }

  it("GIVEN every file loads THEN the current environment's and every other's references count", () => {
    const dir = tempConfigDir();
    const refs = referencesOfEnvironments(loadEnvironment("pinned", dir), loadEnvironments(dir));
    expect(refs.parameters).toEqual(["/webfleet/pinned/ami/green", "/webfleet/dev/ami/blue", "/webfleet/dev/ami/green"]);
    expect(refs.pinned).toEqual([{ imageId: "ami-0bbbbbbbbbbbbbbbb", where: expect.stringMatching(/pinned\.yaml \(ami\.blue\)$/) }]);
  });

  it("GIVEN another environment's file is broken THEN the prune is refused (exit 2), naming the file and why: its fleets' AMIs are unknown", async () => {
    const dir = tempConfigDir();
    writeFileSync(join(dir, "qa.yaml"), "region: us-east-1\ninstanceType: 42\n");
    expect(() => referencesOfEnvironments(loadEnvironment("dev", dir), loadEnvironments(dir))).toThrow(CliError);
    const r = await prune(dir, ["--env", "dev", "--apply"]);
    expect(r.code).toBe(EXIT.refused);
    expect(r.stdout).toBe("");
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^error: the environment file of qa is broken, so the AMIs it refers to are not known and no AMI can be pruned safely: .*qa\.yaml: network: is required .*qa\.yaml: instanceType: .*\(got 42\).*\. Fix it and run again; nothing was deregistered$/,
    );
  });

  it("GIVEN two broken files THEN both are named", () => {
    const dir = tempConfigDir();
    writeFileSync(join(dir, "qa.yaml"), "region: [\n");
    writeFileSync(join(dir, "stage.yml"), "region: us-east-1\n");
    expect(() => referencesOfEnvironments(loadEnvironment("dev", dir), loadEnvironments(dir))).toThrow(
      /^the environment files of qa, stage are broken, so the AMIs they refer to are not known .*qa\.yaml: not valid YAML.*stage\.yml: .*Fix them and run again; nothing was deregistered$/,
    );
  });

  it("GIVEN --keep 0 without an age rule THEN it is refused with one line and exit 2, before anything is read", async () => {
    expect(() => checkKeepRule(0, undefined, undefined)).toThrow(
      "--keep '0' without --min-age: would delete every AMI nothing uses, the newest too; keep at least 1 (--keep 1) or give an age above zero (--min-age 7d)",
    );
    expect(() => checkKeepRule(0, "0s", 0)).toThrow(/^--keep '0' with --min-age '0s': would delete every AMI nothing uses/);
    expect(() => checkKeepRule(0, "7d", 7 * 86400)).not.toThrow();
    expect(() => checkKeepRule(1, undefined, undefined)).not.toThrow();
    const r = await prune(tempConfigDir(), ["--env", "dev", "--keep", "0", "--apply"]);
    expect(r).toEqual({
      code: EXIT.refused,
      stdout: "",
      stderr:
        "error: --keep '0' without --min-age: would delete every AMI nothing uses, the newest too; keep at least 1 (--keep 1) or give an age above zero (--min-age 7d)\n",
    });
  });
});

describe("reading every page", () => {
  it("GIVEN more than ten release-state parameters THEN GetParameters is asked ten names at a time, and the eleventh and twelfth still count", async () => {
    const a = account();
    const parameters = [...DEV_PARAMETERS, ...Array.from({ length: 10 }, (_, i) => `/webfleet/env${i}/ami/blue`)];
    a.params.set(parameters[11], IMG4);
    a.params.set(parameters[10], "ami-00000000000000005");
    const v = await verdicts(a, policy({ parameters }));
    expect(a.callCount(GetParametersCommand)).toBe(2);
    expect(v[IMG4]).toMatchObject({ action: "keep", reasons: ["in SSM /webfleet/env9/ami/blue"] });
    expect(v["ami-00000000000000005"]).toMatchObject({ action: "keep", reasons: ["in SSM /webfleet/env8/ami/blue"] });
    expect(v["ami-00000000000000003"].action).toBe("delete");
  });

  it("GIVEN DescribeImages, DescribeAutoScalingGroups and DescribeInstances answer two items a page THEN every AMI and every reference is seen", async () => {
    const a = account();
    a.pageSize = 2;
    for (let n = 1; n <= 5; n++) a.instances.set(`i-${n}`, { id: `i-${n}`, imageId: "ami-00000000000000003", state: "running" });
    a.instances.set("i-9", { id: "i-9", imageId: IMG4, state: "stopped" });
    template(a, "lt-0aaa", { 1: "ami-00000000000000005" });
    for (const g of ["a", "b", "c", "d"]) a.groups.set(g, { name: g, tags: {}, launchTemplate: { id: g === "d" ? "lt-0aaa" : "lt-0none", version: "1" } });
    const v = await verdicts(a);
    expect(Object.keys(v)).toHaveLength(5);
    expect(a.callCount(DescribeImagesCommand)).toBe(3);
    expect(a.callCount(DescribeInstancesCommand)).toBe(3);
    expect(a.callCount(DescribeAutoScalingGroupsCommand)).toBe(2);
    expect(v["ami-00000000000000003"].reasons).toEqual([
      "instance i-1 (running)",
      "instance i-2 (running)",
      "instance i-3 (running)",
      "instance i-4 (running)",
      "instance i-5 (running)",
    ]);
    expect(v[IMG4].reasons).toEqual(["instance i-9 (stopped)"]);
    expect(v["ami-00000000000000005"].reasons).toEqual(["launch template lt-0aaa v1 of d"]);
  });
});

describe("throttled reads", () => {
  it("GIVEN DescribeImages is throttled once THEN a client made with awsClientConfig calls again (the SDK's standard retry) and the read succeeds", async () => {
    // The real SDK request path, with an HTTP handler in place of the network: aws-sdk-client-mock
    // would skip the retry middleware this is about.
    const bodies = [
      [
        503,
        "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>r1</RequestID></Response>",
      ],
      [
        200,
        '<DescribeImagesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r2</requestId><imagesSet><item><imageId>ami-00000000000000001</imageId>' +
          "<creationDate>2025-01-01T00:00:00.000Z</creationDate><imageState>available</imageState></item></imagesSet></DescribeImagesResponse>",
      ],
    ] as const;
    let calls = 0;
    const requestHandler = {
      handle: async () => {
        const [statusCode, body] = bodies[Math.min(calls++, 1)];
        return { response: { statusCode, headers: { "content-type": "text/xml" }, body: Readable.from([Buffer.from(body)]) } };
      },
    };
    const ec2 = new EC2Client({
      ...awsClientConfig("us-east-1"),
      requestHandler: requestHandler as never,
      credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "x" },
    });
    const images = await listImages(ec2, "dev");
    expect(calls).toBe(2);
    expect(images.map((i) => i.ImageId)).toEqual(["ami-00000000000000001"]);
  });
});

describe("deleting", () => {
  const noSleep = { sleeps: [] as number[] };
  const deps = (a: FakeAccount, log: string[] = []) => ({
    ec2: a.ec2,
    ssm: a.ssm,
    autoScaling: a.autoScaling,
    sleep: async (ms: number) => void noSleep.sleeps.push(ms),
    now: () => NOW,
    log: (l: string) => void log.push(l),
  });
  const options = (apply: boolean) => ({ env: "dev", region: "us-east-1", apply, policy: policy() });
  beforeEach(() => (noSleep.sleeps = []));

  it("GIVEN a dry run THEN it prints every AMI with keep or delete and why, and changes nothing", async () => {
    const a = account();
    const result = await pruneImages(deps(a), options(false));
    expect(a.changes).toEqual([]);
    expect(a.callCount(DeregisterImageCommand) + a.callCount(DeleteSnapshotCommand)).toBe(0);
    expect(pruneExitCode(result)).toBe(EXIT.ok);
    const lines = formatPruneResult(result);
    expect(lines[0]).toBe("AMIs of webfleet dev in us-east-1 (keep the newest 2 and any younger than 7d, and every AMI in use):");
    expect(lines[1]).toMatch(/^IMAGE +NAME +CREATED \(UTC\) +AGE +ACTION +WHY$/);
    expect(lines[2]).toMatch(/^ami-00000000000000001 +webfleet-dev-al2023-x86_64-1d +2025-05-31 12:00 +1 d +keep +newest 2; younger than 7d$/);
    expect(lines[5]).toMatch(/^ami-00000000000000004 .* 20 d +delete +not among the newest 2; older than 7d; not in use$/);
    expect(lines.at(-1)).toBe("dry run: would deregister 3 AMIs and their 3 snapshots; nothing was changed. Run again with --apply to do it");
  });

  it("GIVEN --json THEN programs get the same verdicts", async () => {
    const json = pruneJson(await pruneImages(deps(account()), options(false))) as {
      dryRun: boolean;
      images: { imageId: string; action: string; reasons: string[]; ageSeconds: number }[];
    };
    expect(json.dryRun).toBe(true);
    expect(json.images).toHaveLength(5);
    expect(json.images[3]).toMatchObject({
      imageId: IMG4,
      action: "delete",
      ageSeconds: 20 * 86400,
      reasons: ["not among the newest 2", "older than 7d", "not in use"],
    });
  });

  it("GIVEN --apply THEN each AMI is deregistered before its snapshots are deleted, and the kept ones are untouched", async () => {
    const a = account();
    const result = await pruneImages(deps(a), options(true));
    expect(a.changes).toEqual([
      "DeregisterImage ami-00000000000000003",
      "DeleteSnapshot snap-00000000000000003",
      "DeregisterImage ami-00000000000000004",
      "DeleteSnapshot snap-00000000000000004",
      "DeregisterImage ami-00000000000000005",
      "DeleteSnapshot snap-00000000000000005",
    ]);
    expect([...a.images.keys()].sort()).toEqual(["ami-00000000000000001", "ami-00000000000000002", "ami-0000000000000000f"]);
    expect(pruneExitCode(result)).toBe(EXIT.ok);
    expect(formatPruneResult(result).at(-1)).toBe("deregistered 3 of 3 AMIs, deleted 3 snapshots");
  });

  it("GIVEN DeregisterImage is throttled once THEN it is called again after a wait and succeeds", async () => {
    const a = account();
    a.failNext("DeregisterImage", awsError("RequestLimitExceeded", "Request limit exceeded."));
    const result = await pruneImages(deps(a), options(true));
    expect(a.callCount(DeregisterImageCommand)).toBe(4);
    expect(noSleep.sleeps).toEqual([1000]);
    expect(result.deletions.every((d) => d.deregistered && d.snapshots.every((s) => s.deleted))).toBe(true);
  });

  it("GIVEN EC2 still counts a snapshot as used by the AMI just deregistered THEN it tries again until it is free", async () => {
    const a = account();
    a.failNext(
      "DeleteSnapshot",
      awsError("InvalidSnapshot.InUse", "The snapshot snap-00000000000000003 is currently in use by ami-00000000000000003"),
      awsError("InvalidSnapshot.InUse", "The snapshot snap-00000000000000003 is currently in use by ami-00000000000000003"),
    );
    const result = await pruneImages(deps(a), options(true));
    expect(noSleep.sleeps).toEqual([1000, 2000]);
    expect(result.deletions[0].snapshots).toEqual([{ snapshotId: "snap-00000000000000003", deleted: true }]);
  });

  it("GIVEN a snapshot cannot be deleted THEN the AMI is reported with the snapshot and the error, the others go on, and the exit code says needs attention", async () => {
    const a = account();
    a.failNext("DeleteSnapshot", awsError("UnauthorizedOperation", "You are not authorized to perform this operation."));
    const result = await pruneImages(deps(a), options(true));
    expect(result.deletions[0]).toMatchObject({
      imageId: "ami-00000000000000003",
      deregistered: true,
      snapshots: [{ snapshotId: "snap-00000000000000003", deleted: false, error: "UnauthorizedOperation: You are not authorized to perform this operation." }],
    });
    expect(a.images.has(IMG4)).toBe(false);
    expect(pruneExitCode(result)).toBe(EXIT.needsAttention);
    expect(formatPruneResult(result)).toContain(
      "  - ami-00000000000000003 was deregistered but its snapshot snap-00000000000000003 was not deleted (UnauthorizedOperation: You are not authorized to perform this operation.): aws ec2 delete-snapshot --snapshot-id snap-00000000000000003 --region us-east-1",
    );
  });

  it("GIVEN an AMI cannot be deregistered THEN its snapshots are left alone (nothing half deleted) and the run fails", async () => {
    const a = account();
    a.failNext("DeregisterImage", awsError("UnauthorizedOperation", "You are not authorized to perform this operation."));
    const result = await pruneImages(deps(a), options(true));
    expect(result.deletions[0]).toEqual({
      imageId: "ami-00000000000000003",
      name: "webfleet-dev-al2023-x86_64-10d",
      deregistered: false,
      error: "UnauthorizedOperation: You are not authorized to perform this operation.",
      snapshots: [],
    });
    expect(a.images.has("ami-00000000000000003")).toBe(true);
    expect(a.snapshots.has("snap-00000000000000003")).toBe(true);
    expect(a.images.has(IMG4)).toBe(false);
    expect(pruneExitCode(result)).toBe(EXIT.failed);
  });

  it("GIVEN the AMI and its snapshot are already gone (a second run) THEN both count as deleted", async () => {
    const a = account();
    const plan = await planPrune(a, "dev", "us-east-1", policy(), NOW);
    a.images.delete("ami-00000000000000003");
    a.snapshots.delete("snap-00000000000000003");
    const outcomes = await deleteImages({ ec2: a.ec2, sleep: async () => undefined, log: () => undefined }, plan.images);
    expect(outcomes[0]).toEqual({
      imageId: "ami-00000000000000003",
      name: "webfleet-dev-al2023-x86_64-10d",
      deregistered: true,
      snapshots: [{ snapshotId: "snap-00000000000000003", deleted: true }],
    });
  });

  it("GIVEN Ctrl-C during the deletions THEN it stops before the next AMI, never between an AMI and its snapshots", async () => {
    const a = account();
    const controller = new AbortController();
    const log: string[] = [];
    const result = await pruneImages(
      { ...deps(a, log), log: (l) => (log.push(l), l.startsWith("deleted snap") && controller.abort()), signal: controller.signal },
      options(true),
    );
    expect(a.changes).toEqual(["DeregisterImage ami-00000000000000003", "DeleteSnapshot snap-00000000000000003"]);
    expect(pruneExitCode(result)).toBe(EXIT.interrupted);
    expect(formatPruneResult(result).at(-1)).toBe("interrupted: stopped before the next AMI; 2 not touched (run again to finish)");
  });

  it("GIVEN no AMIs THEN it says where it looked", async () => {
    const a = new FakeAccount();
    const result: PruneResult = await pruneImages(deps(a), options(false));
    expect(formatPruneResult(result)).toEqual(["no AMIs of webfleet dev in us-east-1 (tagged Project=webfleet, Environment=dev)"]);
  });
});

describe("the tags it looks for", () => {
  it("are the tag keys the Packer template gives every AMI", async () => {
    const file = join(PACKER_DIR, "webfleet.pkr.hcl");
    const parsed = (await parse(file, readFileSync(file, "utf8"))) as { source: Record<string, Record<string, Array<{ tags: Record<string, string> }>>> };
    const tags = parsed.source["amazon-ebs"].al2023[0].tags;
    expect(tags[IMAGE_TAGS.project]).toBe("${local.project}");
    expect(tags[IMAGE_TAGS.environment]).toBe("${var.environment}");
  });
});
