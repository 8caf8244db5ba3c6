import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isSnap } from "../../../../scripts/lib/revision/apache";

describe("isSnap: Ubuntu's chromium is a snap, which is passed over for the headless shell", () => {
  const dir = mkdtempSync(join(tmpdir(), "webfleet-snap-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("knows a command under /snap/bin", () => {
    expect(isSnap("/snap/bin/chromium")).toBe(true);
  });

  it("knows a link to the snap launcher wherever it is", () => {
    writeFileSync(join(dir, "snap"), "#!/bin/sh\n");
    symlinkSync(join(dir, "snap"), join(dir, "chromium"));
    expect(isSnap(join(dir, "chromium"))).toBe(true);
  });

  it("takes a real binary, and a missing path, as not a snap", () => {
    writeFileSync(join(dir, "chrome-headless-shell"), "");
    expect(isSnap(join(dir, "chrome-headless-shell"))).toBe(false);
    expect(isSnap(join(dir, "nothing-here"))).toBe(false);
  });
});
