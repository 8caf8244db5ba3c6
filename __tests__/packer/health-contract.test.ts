/**
 * The health path is one contract (HEALTH_CHECK in modules/names.ts) shared by three tools: the
 * stack's target groups probe it, `npm run ami` passes it to the Packer template, and the
 * template hands it to the provisioning scripts that serve it and check it. Here all three
 * are asked what path they use, and must agree.
 */
import { parse } from "@cdktf/hcl2json";
import { Testing } from "cdktf";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { HEALTH_CHECK } from "../../modules/names";
import { WebfleetStack } from "../../modules/webfleet-stack";
import { PACKER_DIR, packerVariables } from "../../scripts/lib/image/packer";
import { doc, environment, resources } from "../helpers/stack";

const SCRIPTS = join(PACKER_DIR, "scripts");

/** `${var.x}` → x: the template variable an environment_vars entry is made of. */
function variableOf(entry: string | undefined): string | undefined {
  return entry ? /^[A-Z_]+=\$\{var\.([a-z_]+)\}$/.exec(entry)?.[1] : undefined;
}

describe("the health path", () => {
  it("is what the target groups of the stack probe", () => {
    const groups = resources(doc(Testing.synth(new WebfleetStack(Testing.app(), "webfleet-test", { config: environment() }))), "aws_lb_target_group");
    expect(groups).toHaveLength(2);
    for (const group of groups) expect((group.health_check as { path: string }).path).toBe(HEALTH_CHECK.path);
  });

  it("is passed by npm run ami to Packer, whose template hands it to the provisioning scripts as WEBFLEET_HEALTH_PATH", async () => {
    // GIVEN the variables npm run ami passes
    const vars = packerVariables({ environment: "dev", region: "us-east-1", architecture: "x86_64", gitCommit: "abc" });
    // AND the template's provisioner
    const template = (await parse("webfleet.pkr.hcl", readFileSync(join(PACKER_DIR, "webfleet.pkr.hcl"), "utf8"))) as {
      build: Array<{ provisioner: { shell: Array<{ environment_vars: string[] }> } }>;
    };
    const entries = template.build[0].provisioner.shell[0].environment_vars;
    const health = entries.find((e) => e.startsWith("WEBFLEET_HEALTH_PATH="));
    // THEN the scripts get the variable npm run ami sets to HEALTH_CHECK.path
    const variable = variableOf(health);
    expect(variable).toBe("health_path");
    expect(vars[variable!]).toBe(HEALTH_CHECK.path);
  });

  it("is served and checked at the path the scripts are given", () => {
    // WHEN install-web.sh renders the endpoint and verify-image.sh reads its environment, for the contract's path
    const conf = spawnSync("bash", ["-c", 'source "$1"; render_health_conf "$WEBFLEET_HEALTH_PATH" /h handler', "_", join(SCRIPTS, "install-web.sh")], {
      encoding: "utf8",
      env: { ...process.env, WEBFLEET_HEALTH_PATH: HEALTH_CHECK.path },
    }).stdout;
    // THEN Apache answers exactly that path
    expect(conf).toContain(`AliasMatch "^${HEALTH_CHECK.path.replaceAll(".", "\\.")}$" "/h/health.php"`);
    // AND both scripts take it from WEBFLEET_HEALTH_PATH, and verify-image.sh requests it on the instance itself
    for (const name of ["install-web.sh", "verify-image.sh"]) {
      expect(readFileSync(join(SCRIPTS, name), "utf8")).toContain("local health_path=${WEBFLEET_HEALTH_PATH:-}");
    }
    expect(readFileSync(join(SCRIPTS, "verify-image.sh"), "utf8")).toContain('local url="http://127.0.0.1${health_path}"');
  });

  it.each(readdirSync(SCRIPTS).filter((f) => f.endsWith(".sh")))("is not written into %s", (name) => {
    // A URL or a quoted or bare path (file paths such as /usr/share/webfleet/health are not URLs)
    const text = readFileSync(join(SCRIPTS, name), "utf8");
    const path = HEALTH_CHECK.path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const url = new RegExp(`https?://[^\\s"']*?${path}(?![\\w.-])`);
    const bare = new RegExp(`(^|[\\s"'=(])${path}(?![\\w./-])`, "m");
    expect({ url: url.exec(text)?.[0], bare: bare.exec(text)?.[0] }).toEqual({ url: undefined, bare: undefined });
  });
});
