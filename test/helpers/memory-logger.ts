import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

/** A pino record as written (JSON), for assertions. */
export interface LogRecord {
  level: number;
  msg?: string;
  err?: { type?: string; message?: string; code?: string };
  [key: string]: unknown;
}

/** A pino logger that writes into an array of parsed records. */
export function memoryLogger(level = 'warn'): { logger: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line) records.push(JSON.parse(line) as LogRecord);
      callback();
    },
  });
  return { logger: pino({ level }, stream), records };
}

/** pino's numeric levels. */
export const WARN = 40;
