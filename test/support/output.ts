// Captures what the process prints (stdout, stderr and console, or stdout alone), so a test can read it or prove it empty.
import { vi } from 'vitest';

export interface CapturedOutput {
  /** All text printed since capture started. */
  text(): string;
  restore(): void;
}

const asText = (value: unknown): string =>
  typeof value === 'string' ? value : value instanceof Uint8Array ? Buffer.from(value).toString('utf8') : JSON.stringify(value);

/** Everything the process prints while a flow runs: stdout, stderr and console; `text()` puts each write on its own line. */
export function captureOutput(): CapturedOutput {
  const printed: string[] = [];
  const record = (...args: unknown[]) => {
    printed.push(args.map(asText).join(' '));
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

/** What is written to standard output alone, kept from reaching the terminal; `text()` joins the chunks as written. */
export function captureStdout(): CapturedOutput {
  const chunks: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    chunks.push(asText(chunk));
    return true;
  });
  return {
    text: () => chunks.join(''),
    restore: () => {
      spy.mockRestore();
    },
  };
}
