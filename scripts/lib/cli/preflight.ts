/**
 * The checks a command makes before it changes anything, the same code for a real run and a
 * dry run. A real run stops at the first blocker (a {@link CliError}); a dry run is a
 * pre-flight check: it records every blocker a real run would hit, carries on with the plan, and
 * the command exits 2 when there is one. Checks that could not run (no AWS account for an
 * offline preview) are listed as not checked, which does not fail the dry run.
 */
import { CliError, EXIT } from "./errors";

export class Preflight {
  /** What would stop a real run. */
  readonly blockers: string[] = [];
  /** What a dry run could not check, and why. */
  readonly notChecked: string[] = [];

  constructor(readonly dryRun: boolean) {}

  /**
   * Runs a check. A {@link CliError} from it stops a real run; in a dry run it is recorded and
   * `undefined` is returned, so the plan can go on without that value.
   */
  async check<T>(check: () => Promise<T> | T): Promise<T | undefined> {
    try {
      return await check();
    } catch (e) {
      if (!this.dryRun || !(e instanceof CliError) || e.exitCode === EXIT.interrupted) throw e;
      this.blockers.push(e.message);
      return undefined;
    }
  }

  /** Records a check a dry run skipped (only meaningful in a dry run). */
  skip(what: string, why: string): void {
    this.notChecked.push(`${what}: ${why}`);
  }

  /** A dry run's exit code: 2 when a real run would stop, else 0. */
  get exitCode(): number {
    return this.blockers.length > 0 ? EXIT.refused : EXIT.ok;
  }

  /** The dry run's closing lines: blockers, then what was not checked. */
  report(): string[] {
    const lines: string[] = [];
    if (this.blockers.length > 0) lines.push("a real run would stop here:", ...this.blockers.map((b) => `  - ${b}`));
    if (this.notChecked.length > 0) lines.push("not checked:", ...this.notChecked.map((n) => `  - ${n}`));
    if (this.blockers.length === 0) lines.push("pre-flight: no blocker found");
    return lines;
  }
}
