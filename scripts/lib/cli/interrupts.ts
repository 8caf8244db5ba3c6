/**
 * One interrupt handler for every command: what Ctrl-C (SIGINT) and SIGTERM do depends on what
 * the command is doing, and the command says so.
 *
 * - By default, a signal runs the cleanups the command registered with {@link Interrupts.defer}
 *   (stop a local server, kill a child process, remove a temporary folder), newest first, and
 *   exits 130 at once: nothing the command started is left behind.
 * - Inside {@link Interrupts.cooperate}, a signal aborts {@link Interrupts.signal} instead: a child
 *   such as Packer or Terraform cleans up itself (it got the terminal's SIGINT too; a SIGTERM is
 *   passed on to it as SIGINT by the runner) and the command stops on its own, publishing
 *   nothing. A second signal stops waiting: cleanups, then exit 130.
 * - Inside {@link Interrupts.hold}, signals are queued for the command, which decides (a release
 *   holding its lock asks whether to stop or leave a deployment): {@link Interrupts.take} and
 *   {@link Interrupts.wait}.
 */
import { CliError, EXIT } from "./errors";

export type Signal = "SIGINT" | "SIGTERM";

/** A cleanup registered with the interrupt handler. */
export interface Deferred {
  /** Runs it now (once) and unregisters it: the normal path. */
  run(): Promise<void>;
  /** Unregisters it without running it: what it cleans up is already gone. */
  drop(): void;
}

/** Registers a cleanup to run on an interrupt. */
export type Defer = (cleanup: () => unknown) => Deferred;

/** The reason of an abort caused by a signal to this process. */
export class Interrupt extends CliError {
  constructor(
    readonly signal: Signal,
    /** Whether a running child must be sent SIGINT (it did not get the signal itself). */
    readonly forwardToChild: boolean,
  ) {
    super(`interrupted by ${signal}`, EXIT.interrupted);
    this.name = "Interrupt";
  }
}

/** What the handler needs of the process; tests hand in a fake. */
export interface SignalSource {
  on(signal: Signal, listener: () => void): unknown;
  off(signal: Signal, listener: () => void): unknown;
}

export interface InterruptsOptions {
  readonly source?: SignalSource;
  /** Ends the process; tests record the call instead. */
  readonly exit?: (code: number) => void;
  /** Where "stopping..." goes (stderr). */
  readonly log?: (line: string) => void;
}

/** Ctrl-C and SIGTERM for one command run; see the module comment. */
export class Interrupts {
  private readonly controller = new AbortController();
  private readonly cleanups: Array<{ readonly run: () => unknown }> = [];
  /** Cleanups under way (from any signal, or the normal path): the process must not exit before they end. */
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly queue: Signal[] = [];
  private holding = 0;
  private cooperating = 0;
  private arrived!: () => void;
  private arrival = this.renew();
  private readonly listeners: Array<[Signal, () => void]>;
  private readonly source: SignalSource;
  private readonly exit: (code: number) => void;
  private readonly log: (line: string) => void;

  constructor(options: InterruptsOptions = {}) {
    this.source = options.source ?? process;
    this.exit = options.exit ?? ((code) => process.exit(code));
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.listeners = (["SIGINT", "SIGTERM"] as const).map((s) => [s, () => this.fire(s)]);
    for (const [s, l] of this.listeners) this.source.on(s, l);
  }

  /** Aborted by the first signal that arrives while the command cooperates (see the module comment). */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Whether a signal has interrupted the command. */
  get interrupted(): boolean {
    return this.controller.signal.aborted;
  }

  /**
   * Registers a cleanup to run on an interrupt; the command runs it itself on the normal path
   * ({@link Deferred.run}), or drops it when there is nothing left to clean up.
   */
  defer(cleanup: () => unknown): Deferred {
    const entry = { run: cleanup };
    this.cleanups.push(entry);
    const drop = (): boolean => {
      const i = this.cleanups.indexOf(entry);
      if (i !== -1) this.cleanups.splice(i, 1);
      return i !== -1;
    };
    return {
      run: async () => {
        if (drop()) await this.track(entry.run);
      },
      drop: () => void drop(),
    };
  }

  /** While `fn` runs, a signal aborts {@link signal} and `fn` winds down on its own. */
  async cooperate<T>(fn: () => Promise<T>): Promise<T> {
    this.cooperating++;
    try {
      return await fn();
    } finally {
      this.cooperating--;
    }
  }

  /** While `fn` runs, signals are queued for it: {@link take}, {@link wait}. */
  async hold<T>(fn: () => Promise<T>): Promise<T> {
    this.holding++;
    try {
      return await fn();
    } finally {
      this.holding--;
    }
  }

  /** The oldest signal not yet taken. */
  take(): Signal | undefined {
    return this.queue.shift();
  }

  /** Resolves when a signal is waiting to be taken (at once if one is). Consumes nothing. */
  wait(): Promise<void> {
    return this.queue.length > 0 ? Promise.resolve() : this.arrival;
  }

  /**
   * Runs every registered cleanup, newest first; a failing one does not stop the others. Ends
   * only when the cleanups already under way (a second Ctrl-C's, the normal path's) have ended too.
   */
  async runCleanups(): Promise<void> {
    while (this.cleanups.length > 0) {
      const entry = this.cleanups.pop()!;
      try {
        await this.track(entry.run);
      } catch (e) {
        this.log(`  (cleanup failed: ${e instanceof Error ? e.message : String(e)})`);
      }
    }
    await Promise.allSettled([...this.inFlight]);
  }

  /** Runs `cleanup` now (its first steps before any await), counted as under way until it ends. */
  private async track(cleanup: () => unknown): Promise<void> {
    let running: Promise<unknown>;
    try {
      running = Promise.resolve(cleanup());
    } catch (e) {
      running = Promise.reject(e);
    }
    this.inFlight.add(running);
    try {
      await running;
    } finally {
      this.inFlight.delete(running);
    }
  }

  /** Stops listening to signals (at the end of the command). */
  dispose(): void {
    for (const [s, l] of this.listeners) this.source.off(s, l);
  }

  private renew(): Promise<void> {
    return new Promise<void>((resolve) => (this.arrived = resolve));
  }

  private fire(signal: Signal): void {
    if (this.holding > 0) {
      this.queue.push(signal);
      const wake = this.arrived;
      this.arrival = this.renew();
      wake();
      return;
    }
    if (this.cooperating > 0 && !this.controller.signal.aborted) {
      this.log(`${signal} received: stopping; waiting for the running step to clean up (Ctrl-C again to stop waiting)...`);
      this.controller.abort(new Interrupt(signal, signal !== "SIGINT"));
      return;
    }
    if (!this.controller.signal.aborted) this.controller.abort(new Interrupt(signal, signal !== "SIGINT"));
    void this.runCleanups().then(() => this.exit(EXIT.interrupted));
  }
}
