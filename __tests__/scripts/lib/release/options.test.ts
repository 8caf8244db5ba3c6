import { helpText, HelpRequested } from "../../../../scripts/lib/cli/command";
import { RELEASE_COMMAND, parseReleaseArgs } from "../../../../scripts/lib/release/options";
import { parseGitHubRevision, revisionLocation } from "../../../../scripts/lib/revision/source";

describe("release flags", () => {
  it("GIVEN only --env THEN the defaults apply", () => {
    expect(parseReleaseArgs(["--env", "dev"])).toMatchObject({
      env: "dev",
      strategy: undefined,
      revisionDir: "app",
      dryRun: false,
      forceUnlock: false,
      onTimeout: "leave",
      timeoutMinutes: undefined,
    });
  });

  test.each`
    argv                                                                      | field                    | value
    ${["--env=dev", "--strategy=min-healthy=75%"]}                            | ${"strategy"}            | ${"min-healthy=75%"}
    ${["--env", "dev", "--strategy", "min-healthy=2"]}                        | ${"strategy"}            | ${"min-healthy=2"}
    ${["--env", "dev", "--dry-run"]}                                          | ${"dryRun"}              | ${true}
    ${["--env", "dev", "--timeout-minutes", "30"]}                            | ${"timeoutMinutes"}      | ${30}
    ${["--env", "dev", "--timeout-minutes", "9", "--on-timeout", "rollback"]} | ${"onTimeout"}           | ${"rollback"}
    ${["--env", "dev", "--strategy", "canary=10,50,100", "--bake", "90s"]}    | ${"bakeSeconds"}         | ${90}
    ${["--env", "dev", "--keep-previous", "30m"]}                             | ${"keepPreviousSeconds"} | ${1800}
    ${["--env", "dev", "--smoke-path", "health,/about"]}                      | ${"smokePaths"}          | ${["/health", "/about"]}
    ${["--env", "dev", "--finish"]}                                           | ${"finish"}              | ${true}
    ${["--env", "dev", "--file-exists-behavior", "retain"]}                   | ${"fileExistsBehavior"}  | ${"RETAIN"}
    ${["--env", "dev", "--force-unlock"]}                                     | ${"forceUnlock"}         | ${true}
    ${["--env", "dev", "--dry-run", "--instances", "4"]}                      | ${"instances"}           | ${4}
  `("reads $argv: $field = $value", ({ argv, field, value }) => {
    expect(parseReleaseArgs(argv)[field as "env"]).toEqual(value);
  });

  test.each`
    argv                                                               | message
    ${[]}                                                              | ${"--env is required"}
    ${["--env"]}                                                       | ${"option '--env <name>' argument missing"}
    ${["--env", "dev", "--stratgy", "x"]}                              | ${"unknown option '--stratgy' (did you mean --strategy?)"}
    ${["--env", "dev", "extra"]}                                       | ${"unexpected argument 'extra': this command takes options only"}
    ${["--env", "dev", "--dry-run=yes"]}                               | ${"--dry-run takes no value (got 'yes')"}
    ${["--env", "dev", "--timeout-minutes", "soon"]}                   | ${"--timeout-minutes 'soon': must be a whole number from 1 to 1440"}
    ${["--env", "dev", "--timeout-minutes", "0"]}                      | ${"--timeout-minutes '0'"}
    ${["--env", "dev", "--on-timeout", "panic"]}                       | ${"--on-timeout 'panic': must be one of leave, rollback"}
    ${["--env", "dev", "--on-timeout", "rollback"]}                    | ${"--on-timeout rollback needs --timeout-minutes"}
    ${["--env", "dev", "--bake", "10"]}                                | ${"--bake '10' is not a duration: use a number with a unit, such as 90s, 10m, 1h30m or 7d"}
    ${["--env", "dev", "--finish", "--strategy", "blue-green"]}        | ${"--finish only scales down the old color a release kept up"}
    ${["--env", "dev", "--same-revision", "--github", "a/b@x"]}        | ${"--same-revision takes the live color's revision"}
    ${["--env", "dev", "--file-exists-behavior", "clobber"]}           | ${"--file-exists-behavior 'clobber': must be disallow, overwrite, retain"}
    ${["--env", "dev", "--instances", "4"]}                            | ${"--instances 4 only previews a plan: add --dry-run"}
    ${["--env", "dev", "--dry-run", "--instances", "0"]}               | ${"--instances '0': must be a whole number from 1 to 1000"}
    ${["--env", "dev", "--env", "prod"]}                               | ${"--env is given twice ('dev' and 'prod')"}
    ${["--env", "dev", "--github", "a/b@x", "--revision-dir", "app"]}  | ${"--github and --revision-dir are two revisions"}
    ${["--env", "dev", "--force-unlock", "--strategy", "all-at-once"]} | ${"--force-unlock only removes a stale lock"}
  `("refuses $argv: $message", ({ argv, message }) => {
    expect(() => parseReleaseArgs(argv)).toThrow(message);
  });
});

describe("the help", () => {
  it("GIVEN --help THEN --file-exists-behavior says the appspec's value wins and a different one is refused", () => {
    const help = helpText(RELEASE_COMMAND).replace(/\s+/g, " ");
    expect(help).toContain("--file-exists-behavior <disallow|overwrite|retain>");
    expect(help).toContain("the appspec's value wins, so a different one is refused");
  });

  test.each([["-h"], ["--help"]])("GIVEN %s THEN the help is asked for, whatever else is missing", (flag) => {
    expect(() => parseReleaseArgs([flag])).toThrow(HelpRequested);
  });
});

describe("--github revisions", () => {
  const sha = "0123456789abcdef0123456789abcdef01234567";

  it("GIVEN owner/repo@<40-hex> THEN CodeDeploy gets a GitHub RevisionLocation", () => {
    const github = parseGitHubRevision(`awslabs/aws-codedeploy-samples@${sha.toUpperCase()}`);
    expect(revisionLocation({ type: "github", github })).toEqual({
      revisionType: "GitHub",
      gitHubLocation: { repository: "awslabs/aws-codedeploy-samples", commitId: sha },
    });
  });

  test.each`
    text                    | message
    ${"owner/repo"}         | ${"has no @<commit>"}
    ${`owner@${sha}`}       | ${"is not owner/repo"}
    ${`a/b/c@${sha}`}       | ${"is not owner/repo"}
    ${"owner/repo@main"}    | ${"'main' looks like a branch or tag name; CodeDeploy deploys only a full 40-hex commit SHA"}
    ${"owner/repo@0123abc"} | ${"'0123abc' looks like a short SHA"}
  `("refuses '$text': $message", ({ text, message }) => {
    expect(() => parseGitHubRevision(text)).toThrow(message);
  });
});
