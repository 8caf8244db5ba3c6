/** Reading SSM parameters, for every command: a missing parameter is `undefined`, not an error. */
import { GetParameterCommand, type SSMClient } from "@aws-sdk/client-ssm";

export interface ParameterValue {
  readonly value: string;
  readonly version: number;
}

/** A parameter's value, or undefined when it does not exist. */
export async function readParameter(ssm: SSMClient, name: string): Promise<ParameterValue | undefined> {
  try {
    const out = await ssm.send(new GetParameterCommand({ Name: name }));
    return { value: out.Parameter?.Value ?? "", version: out.Parameter?.Version ?? 0 };
  } catch (e) {
    if ((e as Error | undefined)?.name === "ParameterNotFound") return undefined;
    throw e;
  }
}
