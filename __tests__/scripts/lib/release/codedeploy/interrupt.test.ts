import { interruptAction, leftRunningMessage } from "../../../../../scripts/lib/release/codedeploy/interrupt";

describe("what Ctrl-C does", () => {
  test.each`
    case                                          | interactive | phase         | signal       | answer       | action
    ${"in CI (no terminal)"}                      | ${false}    | ${"deploy"}   | ${"SIGINT"}  | ${undefined} | ${"leave"}
    ${"on SIGTERM, even in a terminal"}           | ${true}     | ${"deploy"}   | ${"SIGTERM"} | ${undefined} | ${"leave"}
    ${"in a terminal, before asking"}             | ${true}     | ${"deploy"}   | ${"SIGINT"}  | ${undefined} | ${"ask"}
    ${"when the user answers s"}                  | ${true}     | ${"deploy"}   | ${"SIGINT"}  | ${"s"}       | ${"stop"}
    ${"when the user answers STOP"}               | ${true}     | ${"deploy"}   | ${"SIGINT"}  | ${" STOP "}  | ${"stop"}
    ${"when the user answers l"}                  | ${true}     | ${"deploy"}   | ${"SIGINT"}  | ${"l"}       | ${"leave"}
    ${"when the user just presses Enter"}         | ${true}     | ${"deploy"}   | ${"SIGINT"}  | ${""}        | ${"keep-watching"}
    ${"when the user answers w"}                  | ${true}     | ${"deploy"}   | ${"SIGINT"}  | ${"w"}       | ${"keep-watching"}
    ${"when the user answers nonsense"}           | ${true}     | ${"deploy"}   | ${"SIGINT"}  | ${"maybe"}   | ${"ask"}
    ${"on a second Ctrl-C at the prompt"}         | ${true}     | ${"deploy"}   | ${"SIGINT"}  | ${null}      | ${"leave"}
    ${"while a rollback runs, whatever is asked"} | ${true}     | ${"rollback"} | ${"SIGINT"}  | ${"s"}       | ${"leave"}
  `("$case → $action", ({ interactive, phase, signal, answer, action }) => {
    expect(interruptAction({ interactive, phase, signal, answer })).toBe(action);
  });

  it("GIVEN a deployment left running THEN the message says how to watch and how to stop it with rollback", () => {
    const text = leftRunningMessage("d-ABC123", "eu-west-1");
    expect(text).toContain("aws deploy get-deployment --region eu-west-1 --deployment-id d-ABC123");
    expect(text).toContain("aws deploy stop-deployment --region eu-west-1 --deployment-id d-ABC123 --auto-rollback-enabled");
  });
});
