import { formatDuration, parseDuration } from "../../../../scripts/lib/cli/duration";

describe("durations", () => {
  test.each`
    seconds   | text
    ${0}      | ${"0 s"}
    ${59.6}   | ${"1 min"}
    ${75}     | ${"1 min 15 s"}
    ${3600}   | ${"1 h"}
    ${3930}   | ${"1 h 6 min"}
    ${604800} | ${"7 d"}
    ${97200}  | ${"1 d 3 h"}
  `("formats $seconds s as '$text'", ({ seconds, text }) => {
    expect(formatDuration(seconds)).toBe(text);
  });

  test.each`
    text       | seconds
    ${"90s"}   | ${90}
    ${"10m"}   | ${600}
    ${"1h30m"} | ${5400}
    ${"7d"}    | ${604800}
    ${"0s"}    | ${0}
  `("reads '$text' as $seconds s", ({ text, seconds }) => {
    expect(parseDuration(text, "--bake")).toBe(seconds);
  });

  test.each(["10", "", "m", "10 minutes", "1m1h", "-5m", "1.5h"])("refuses '%s', naming the option and the form", (text) => {
    expect(() => parseDuration(text, "--bake")).toThrow(`--bake '${text}' is not a duration: use a number with a unit, such as 90s, 10m, 1h30m or 7d`);
  });
});
