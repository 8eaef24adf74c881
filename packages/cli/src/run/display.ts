import type { Output } from '../context.js';

/** Writes log lines and, on a terminal, keeps a progress bar as the last line. */
export class Display {
  #bar: string | undefined;
  constructor(private readonly out: Output) {}

  log(line: string): void {
    if (this.#bar !== undefined) this.out.write('\r\x1b[2K');
    this.out.write(line.endsWith('\n') ? line : `${line}\n`);
    if (this.#bar !== undefined) this.out.write(this.#bar);
  }

  bar(text: string | undefined): void {
    if (text === undefined) {
      if (this.#bar !== undefined) this.out.write('\r\x1b[2K');
    } else {
      this.out.write(`\r\x1b[2K${text}`);
    }
    this.#bar = text;
  }
}
