import { parseArgs } from 'node:util';
import { KoyoCliError } from './errors.js';

/** One flag of a command. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** The flag may repeat (`--table a --table b`); comma-separated values are split too. */
  multiple?: boolean;
  /** Placeholder of the value in the usage (`--url URL`). */
  value?: string;
  description: string;
  /** The only values accepted (checked, and listed in the usage). */
  choices?: readonly string[];
}

/** A positional argument of a command. */
export interface PositionalSpec {
  name: string;
  required: boolean;
  description: string;
  /** Takes every remaining argument (only the last positional). */
  variadic?: boolean;
}

/** What a command accepts, and the text of its `--help`. */
export interface CommandSpec {
  /** `'doctor'`, or `'slots drop'` for a sub-command. */
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Paragraphs shown under the usage line of `--help`. */
  description: string;
  positionals: readonly PositionalSpec[];
  options: Readonly<Record<string, OptionSpec>>;
  examples: readonly string[];
}

/** The parsed values of a command line. */
export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/** Edit distance with adjacent transpositions (optimal string alignment), so `tial` is 1 from `tail`. */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** The closest candidate to `input`, if it is close enough to be a likely typo. */
export function suggest(input: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = distance(input, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(1, Math.floor(input.length / 3)) ? best : undefined;
}

function usageError(spec: CommandSpec, message: string): KoyoCliError {
  return new KoyoCliError('USAGE', message, { command: spec.name });
}

/**
 * Parses a command line against a {@link CommandSpec} with Node's `util.parseArgs` (tokens
 * mode), then checks what `parseArgs` leaves to the caller: unknown flags (with a "did you mean"),
 * a boolean given a value, a string flag without one, choices, and positional counts.
 * Every problem is a `USAGE` {@link KoyoCliError}.
 */
export function parseCommandArgs(spec: CommandSpec, argv: readonly string[]): ParsedArgs {
  const options: Record<
    string,
    { type: 'string' | 'boolean'; short?: string; multiple?: boolean }
  > = {};
  for (const [name, option] of Object.entries(spec.options)) {
    options[name] = {
      type: option.type,
      ...(option.short ? { short: option.short } : {}),
      ...(option.multiple ? { multiple: true } : {}),
    };
  }
  const { tokens } = parseArgs({
    args: [...argv],
    options,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const values: ParsedArgs['values'] = {};
  const positionals: string[] = [];
  const known = Object.keys(spec.options).map((name) => `--${name}`);
  for (const token of tokens) {
    if (token.kind === 'positional') {
      positionals.push(token.value);
      continue;
    }
    if (token.kind === 'option-terminator') continue;
    const option = spec.options[token.name];
    if (!option) {
      const hint = suggest(
        token.rawName.startsWith('--') ? token.rawName : `--${token.name}`,
        known,
      );
      throw usageError(
        spec,
        `unknown option ${token.rawName}${hint ? ` (did you mean ${hint}?)` : ''}`,
      );
    }
    const flag = `--${token.name}`;
    if (option.type === 'boolean') {
      if (token.value !== undefined)
        throw usageError(spec, `${flag} takes no value (got "${token.value}")`);
      values[token.name] = true;
      continue;
    }
    const value = token.value;
    if (value === undefined || (!token.inlineValue && value.startsWith('-'))) {
      throw usageError(spec, `${flag} needs a value: ${flag} ${option.value ?? 'VALUE'}`);
    }
    if (value.length === 0) throw usageError(spec, `${flag} needs a non-empty value`);
    const parts = option.multiple
      ? value
          .split(',')
          .map((part) => part.trim())
          .filter((part) => part.length > 0)
      : [value];
    for (const part of parts) {
      if (option.choices && !option.choices.includes(part)) {
        throw usageError(
          spec,
          `${flag} must be one of ${option.choices.join(', ')} (got "${part}")`,
        );
      }
    }
    if (option.multiple)
      values[token.name] = [...((values[token.name] as string[] | undefined) ?? []), ...parts];
    else if (values[token.name] !== undefined) throw usageError(spec, `${flag} was given twice`);
    else values[token.name] = value;
  }
  if (values.help === true) return { values, positionals };
  const required = spec.positionals.filter((p) => p.required).length;
  if (positionals.length < required) {
    const missing = spec.positionals[positionals.length]!;
    throw usageError(spec, `missing ${missing.name}: ${missing.description}`);
  }
  if (positionals.length > spec.positionals.length && !spec.positionals.at(-1)?.variadic) {
    throw usageError(spec, `unexpected argument "${positionals[spec.positionals.length]}"`);
  }
  return { values, positionals };
}

/** A string flag's value, or undefined. */
export function stringValue(args: ParsedArgs, name: string): string | undefined {
  const value = args.values[name];
  return typeof value === 'string' ? value : undefined;
}

/** A repeatable flag's values (empty when not given). */
export function listValue(args: ParsedArgs, name: string): string[] {
  const value = args.values[name];
  return Array.isArray(value) ? value : [];
}

/** Whether a boolean flag was given. */
export function flagValue(args: ParsedArgs, name: string): boolean {
  return args.values[name] === true;
}

/**
 * A numeric flag's value, checked: a finite number within `[min, max]` (an integer when
 * `integer`), or `fallback` when the flag is absent. Anything else is a `USAGE` error.
 */
export function numberValue(
  spec: CommandSpec,
  args: ParsedArgs,
  name: string,
  rules: { min: number; max?: number; integer?: boolean; fallback: number },
): number {
  const text = stringValue(args, name);
  if (text === undefined) return rules.fallback;
  const value = Number(text);
  const kind = rules.integer ? 'an integer' : 'a number';
  const range =
    rules.max === undefined ? `>= ${rules.min}` : `between ${rules.min} and ${rules.max}`;
  if (
    !/^\s*[0-9.]+\s*$/.test(text) ||
    !Number.isFinite(value) ||
    (rules.integer && !Number.isInteger(value)) ||
    value < rules.min ||
    (rules.max !== undefined && value > rules.max)
  ) {
    throw usageError(spec, `--${name} must be ${kind} ${range} (got "${text}")`);
  }
  return value;
}

function wrap(text: string, width: number, indent: string): string {
  const lines: string[] = [];
  for (const paragraph of text.split('\n')) {
    let line = '';
    for (const word of paragraph.split(' ')) {
      if (line.length > 0 && line.length + 1 + word.length > width) {
        lines.push(line);
        line = word;
      } else line = line.length > 0 ? `${line} ${word}` : word;
    }
    lines.push(line);
  }
  return lines.map((line, i) => (i === 0 ? line : `${indent}${line}`)).join('\n');
}

/** The synopsis line of a command: `koyo slots drop NAME [--force] [options]`. */
export function synopsis(spec: CommandSpec): string {
  const positionals = spec.positionals.map((p) => (p.required ? p.name : `[${p.name}]`));
  return ['koyo', spec.name, ...positionals, '[options]'].join(' ');
}

/** The full `--help` text of a command. */
export function formatHelp(spec: CommandSpec): string {
  const out: string[] = [`Usage: ${synopsis(spec)}`, '', wrap(spec.description, 78, ''), ''];
  if (spec.positionals.length > 0) {
    out.push('Arguments:');
    for (const p of spec.positionals)
      out.push(`  ${p.name.padEnd(24)}${wrap(p.description, 52, ' '.repeat(26))}`);
    out.push('');
  }
  out.push('Options:');
  for (const [name, option] of Object.entries(spec.options)) {
    const short = option.short ? `-${option.short}, ` : '    ';
    const value = option.type === 'string' ? ` ${option.value ?? 'VALUE'}` : '';
    const left = `  ${short}--${name}${value}`;
    const choices = option.choices ? ` (${option.choices.join(', ')})` : '';
    const description = `${option.description}${choices}`;
    out.push(
      left.length >= 30
        ? `${left}\n${' '.repeat(30)}${wrap(description, 48, ' '.repeat(30))}`
        : `${left.padEnd(30)}${wrap(description, 48, ' '.repeat(30))}`,
    );
  }
  if (spec.examples.length > 0) {
    out.push('', 'Examples:');
    for (const example of spec.examples) out.push(`  ${example}`);
  }
  return `${out.join('\n')}\n`;
}

/** The short usage printed with a usage error: the synopsis and a pointer to `--help`. */
export function formatShortUsage(spec: CommandSpec): string {
  return `Usage: ${synopsis(spec)}\nRun 'koyo ${spec.name} --help' for the options.\n`;
}
