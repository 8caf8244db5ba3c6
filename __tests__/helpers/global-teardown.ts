/** jest's globalTeardown: removes the run's folder of shared terraform workspaces (see global-setup.ts). */
import { rmSync } from "node:fs";
import { SHARED_WORKSPACES_VARIABLE } from "./terraform";

export default function globalTeardown(): void {
  const folder = process.env[SHARED_WORKSPACES_VARIABLE];
  if (folder) rmSync(folder, { recursive: true, force: true });
  delete process.env[SHARED_WORKSPACES_VARIABLE];
}
