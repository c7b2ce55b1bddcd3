/** Types of buildWasm.mjs for the test that checks the checked-in kernel binary. */
export function compileScanKernel(): Promise<Buffer>;
export function binarySource(bytes: Buffer): string;
