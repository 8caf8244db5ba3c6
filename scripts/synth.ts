/**
 * npm run synth [-- --env <name> | --all]: synthesizes one environment (default `dev`) into
 * cdktf.out/ offline and prints a short summary of each stack. An invalid configuration exits
 * non-zero with every error and writes nothing.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ConfigError } from "../config/load";
import { buildApp } from "../main";

export interface StackSummary {
  readonly stack: string;
  readonly resources: number;
  readonly byType: Record<string, number>;
  readonly dataSources: string[];
  readonly backend: string;
  readonly outputs: string[];
}

/** Summarizes a synthesized cdk.tf.json. */
export function summarize(
  stack: string,
  json: {
    resource?: Record<string, Record<string, unknown>>;
    data?: Record<string, Record<string, unknown>>;
    output?: Record<string, unknown>;
    terraform?: { backend?: Record<string, { bucket?: string; key?: string }> };
  },
): StackSummary {
  const byType: Record<string, number> = {};
  for (const [type, items] of Object.entries(json.resource ?? {})) byType[type] = Object.keys(items).length;
  const [kind, settings] = Object.entries(json.terraform?.backend ?? { local: {} })[0];
  return {
    stack,
    resources: Object.values(byType).reduce((a, b) => a + b, 0),
    byType,
    dataSources: Object.keys(json.data ?? {}),
    backend: kind === "s3" ? `s3://${settings.bucket}/${settings.key}` : kind,
    outputs: Object.keys(json.output ?? {}),
  };
}

export function formatSummary(s: StackSummary): string {
  const types = Object.entries(s.byType)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([t, n]) => `${t.replace(/^aws_/, "")}×${n}`)
    .join(", ");
  return [
    `${s.stack}: ${s.resources} resources, state ${s.backend}`,
    types ? `  ${types}` : "",
    s.dataSources.length ? `  reads: ${s.dataSources.join(", ")}` : "  reads no data source",
    s.outputs.length ? `  outputs: ${s.outputs.join(", ")}` : "",
  ]
    .filter(Boolean)
    .join("\n");
}

function main(): void {
  const { values } = parseArgs({
    options: { env: { type: "string", default: "dev" }, all: { type: "boolean", default: false }, outdir: { type: "string", default: "cdktf.out" } },
  });
  let built;
  try {
    built = buildApp({ environments: values.all ? undefined : [values.env!], outdir: values.outdir });
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      console.error("Nothing was synthesized.");
      process.exit(1);
    }
    throw e;
  }
  const started = performance.now();
  built.app.synth();
  for (const stack of built.app.node.children.map((c) => c.node.id)) {
    const json = JSON.parse(readFileSync(join(values.outdir!, "stacks", stack, "cdk.tf.json"), "utf8"));
    console.log(formatSummary(summarize(stack, json)));
  }
  console.log(`synthesized into ${values.outdir}/ in ${Math.round(performance.now() - started)} ms`);
}

if (require.main === module) main();
