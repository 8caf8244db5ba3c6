// Adds cdktf's matchers (toHaveResource, toHaveResourceWithProperties, toBeValidTerraform, ...)
// to jest's expect, for every suite; the type import declares them for tsc. cdktf itself is
// loaded at the first use of one of them: most suites never use them, and loading cdktf costs
// each suite a third of a second.
import type {} from "cdktf/lib/testing/adapters/jest";

const CDKTF_MATCHERS = [
  "toHaveResource",
  "toHaveResourceWithProperties",
  "toHaveDataSource",
  "toHaveDataSourceWithProperties",
  "toHaveProvider",
  "toHaveProviderWithProperties",
  "toBeValidTerraform",
  "toPlanSuccessfully",
] as const;
type CdktfMatcher = (this: jest.MatcherContext, ...args: unknown[]) => jest.CustomMatcherResult;

let cdktfMatchers: Record<string, CdktfMatcher> | undefined;
/** The matchers cdktf's Testing.setupJest() registers, caught on their way to expect.extend. */
function loadCdktfMatchers(): Record<string, CdktfMatcher> {
  if (!cdktfMatchers) {
    const extend = expect.extend;
    let caught: Record<string, CdktfMatcher> = {};
    expect.extend = (matchers) => {
      caught = matchers as Record<string, CdktfMatcher>;
    };
    try {
      // Loaded on first use, on purpose.
      (require("cdktf") as typeof import("cdktf")).Testing.setupJest();
    } finally {
      expect.extend = extend;
    }
    cdktfMatchers = caught;
  }
  return cdktfMatchers;
}

expect.extend(
  Object.fromEntries(
    CDKTF_MATCHERS.map((name) => [
      name,
      function (this: jest.MatcherContext, ...args: unknown[]) {
        return loadCdktfMatchers()[name].apply(this, args);
      },
    ]),
  ),
);

// cdktf records where each token was made: a full stack trace, captured on a plain object and
// read at once. Under jest every frame of a stack is mapped back through the source maps, which
// for a synthesized app is seconds of CPU. Those records only ever show in cdktf's own messages:
// give them V8's plain frames. Errors (instances of Error) keep their mapped stacks.
const captureStackTrace = Error.captureStackTrace;
const plainFrames = (_target: unknown, frames: NodeJS.CallSite[]) => ["Error", ...frames.map((frame) => `    at ${frame}`)].join("\n");
Error.captureStackTrace = function capture(target: object, below?: Function): void {
  if (target instanceof Error) return captureStackTrace(target, below ?? capture);
  const prepare = Error.prepareStackTrace;
  Error.prepareStackTrace = plainFrames;
  try {
    captureStackTrace(target, below ?? capture);
    void (target as { stack?: unknown }).stack; // formatted here, with the plain frames
  } finally {
    Error.prepareStackTrace = prepare;
  }
};

// Suites make SDK clients of their own (with mocked sends); on Node.js 20 each would print the
// SDK's nine-line Node.js support warning into the test output. The commands say it in one line
// (scripts/lib/aws/clients.ts, tested there).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
