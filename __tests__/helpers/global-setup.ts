/**
 * jest's globalSetup: one folder for the whole run in which every suite's terraform checks share
 * their initialized workspaces (sharedWorkspace in helpers/terraform.ts). The workers start after
 * this and inherit the variable; global-teardown.ts removes the folder.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SHARED_WORKSPACES_VARIABLE } from "./terraform";

export default function globalSetup(): void {
  process.env[SHARED_WORKSPACES_VARIABLE] = mkdtempSync(join(tmpdir(), "webfleet-run-"));
}
