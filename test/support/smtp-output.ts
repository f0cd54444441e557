// Everything the process prints while a flow runs: stdout, stderr and console,
// so a test can prove that nothing identifying the user was logged.
import { vi } from 'vitest';

export interface CapturedOutput {
  /** All text printed since capture started. */
  text(): string;
  restore(): void;
}

export function captureOutput(): CapturedOutput {
  const printed: string[] = [];
  const record = (...args: unknown[]) => {
    printed.push(args.map((a) => (typeof a === 'string' ? a : a instanceof Uint8Array ? Buffer.from(a).toString('utf8') : JSON.stringify(a))).join(' '));
  };
  const spies = [
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      record(chunk);
      return true;
    }),
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      record(chunk);
      return true;
    }),
    ...(['log', 'info', 'warn', 'error', 'debug', 'trace'] as const).map((method) => vi.spyOn(console, method).mockImplementation(record)),
  ];
  return {
    text: () => printed.join('\n'),
    restore: () => {
      for (const spy of spies) spy.mockRestore();
    },
  };
}
