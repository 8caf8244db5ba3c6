import { USAGE, parseReleaseArgs } from "../../../../scripts/lib/release/options";
import { parseGitHubRevision, revisionLocation } from "../../../../scripts/lib/revision/source";

describe("release flags", () => {
  it("GIVEN only --env THEN the defaults apply", () => {
    expect(parseReleaseArgs(["--env", "dev"])).toMatchObject({
      env: "dev",
      strategy: undefined,
      revisionDir: "app",
      dryRun: false,
      forceUnlock: false,
      onTimeout: "rollback",
      timeoutMinutes: undefined,
    });
  });

  test.each`
    argv                                                    | field                   | value
    ${["--env=dev", "--strategy=min-healthy=75%"]}          | ${"strategy"}           | ${"min-healthy=75%"}
    ${["--env", "dev", "--strategy", "min-healthy=2"]}      | ${"strategy"}           | ${"min-healthy=2"}
    ${["--env", "dev", "--dry-run"]}                        | ${"dryRun"}             | ${true}
    ${["--env", "dev", "--timeout-minutes", "30"]}          | ${"timeoutMinutes"}     | ${30}
    ${["--env", "dev", "--on-timeout", "leave"]}            | ${"onTimeout"}          | ${"leave"}
    ${["--env", "dev", "--file-exists-behavior", "retain"]} | ${"fileExistsBehavior"} | ${"RETAIN"}
    ${["--env", "dev", "--force-unlock"]}                   | ${"forceUnlock"}        | ${true}
    ${["-h"]}                                               | ${"help"}               | ${true}
  `("reads $argv: $field = $value", ({ argv, field, value }) => {
    expect(parseReleaseArgs(argv)[field as "env"]).toEqual(value);
  });

  test.each`
    argv                                                               | message
    ${[]}                                                              | ${"--env is required"}
    ${["--env"]}                                                       | ${"--env needs a value"}
    ${["--env", "dev", "--stratgy", "x"]}                              | ${"unknown option '--stratgy'; valid options: --env, --strategy"}
    ${["--env", "dev", "extra"]}                                       | ${"unexpected argument 'extra'"}
    ${["--env", "dev", "--dry-run=yes"]}                               | ${"--dry-run takes no value"}
    ${["--env", "dev", "--timeout-minutes", "soon"]}                   | ${"--timeout-minutes 'soon' must be a number of minutes from 1 to 1440"}
    ${["--env", "dev", "--timeout-minutes", "0"]}                      | ${"--timeout-minutes '0'"}
    ${["--env", "dev", "--on-timeout", "panic"]}                       | ${"--on-timeout 'panic' must be rollback"}
    ${["--env", "dev", "--file-exists-behavior", "clobber"]}           | ${"--file-exists-behavior 'clobber' must be disallow, overwrite or retain"}
    ${["--env", "dev", "--env", "prod"]}                               | ${"--env is given twice ('dev' and 'prod')"}
    ${["--env", "dev", "--github", "a/b@x", "--revision-dir", "app"]}  | ${"--github and --revision-dir are two revisions"}
    ${["--env", "dev", "--force-unlock", "--strategy", "all-at-once"]} | ${"--force-unlock only removes a stale lock"}
  `("refuses $argv: $message", ({ argv, message }) => {
    expect(() => parseReleaseArgs(argv)).toThrow(message);
  });
});

describe("the help", () => {
  it("GIVEN --help THEN --file-exists-behavior says the appspec's value wins and a different one is refused", () => {
    expect(USAGE).toContain("--file-exists-behavior <value>");
    expect(USAGE).toContain("the appspec's value wins, so a different one is refused");
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
