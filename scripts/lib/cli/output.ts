/** Where progress lines go: stderr, so that stdout stays machine-readable. */
export type Log = (line: string) => void;
