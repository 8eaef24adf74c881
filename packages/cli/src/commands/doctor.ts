import { diagnose, type DiagnosticCheck } from '@koyo/slot';
import { flagValue, type ParsedArgs } from '../args.js';
import { commandContext, publicationName, resolveConnection, slotName, type CliIo } from '../context.js';
import { EXIT } from '../errors.js';
import { doctorSpec } from '../specs.js';

/** The JSON `koyo doctor --json` prints. */
export interface DoctorReport {
  /** True when every check passed. */
  ok: boolean;
  /** The connection checked (password hidden). */
  connection: string;
  slot: string | null;
  publication: string | null;
  checks: DiagnosticCheck[];
}

function indent(text: string, prefix: string): string {
  return text.split('\n').join(`\n${prefix}`);
}

/** Formats checks as the text checklist of `koyo doctor`. */
export function formatChecklist(checks: readonly DiagnosticCheck[]): string {
  const width = Math.min(28, Math.max(...checks.map((check) => check.id.length)));
  const pad = ' '.repeat(width + 4);
  const lines: string[] = [];
  for (const check of checks) {
    const mark = check.ok ? '✓' : '✗';
    const label = check.ok || check.severity !== 'warning' ? '' : 'warning: ';
    lines.push(`${mark} ${check.id.padEnd(width)}  ${label}${indent(check.message, pad)}`);
    if (!check.ok && check.fix) lines.push(`${pad}fix: ${indent(check.fix, `${pad}     `)}`);
  }
  const failed = checks.filter((check) => !check.ok);
  const errors = failed.filter((check) => check.severity === 'error').length;
  const warnings = failed.length - errors;
  lines.push('');
  lines.push(
    failed.length === 0
      ? `All ${checks.length} checks passed.`
      : `${failed.length} of ${checks.length} checks failed (${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}). Fix them, then run koyo doctor again.`,
  );
  return `${lines.join('\n')}\n`;
}

/** `koyo doctor`: runs @koyo/slot's `diagnose` and prints a checklist; exit 1 when a check fails. */
export async function doctorCommand(args: ParsedArgs, io: CliIo): Promise<number> {
  const ctx = await commandContext(doctorSpec, args, io);
  const conn = resolveConnection(ctx);
  const slot = slotName(ctx);
  const publication = publicationName(ctx);
  const checks = await diagnose(conn.connection, {
    ...(slot === undefined ? {} : { slot }),
    ...(publication === undefined ? {} : { publication }),
    ...(flagValue(args, 'origins') ? { origins: true } : {}),
  });
  const ok = checks.every((check) => check.ok);
  if (flagValue(args, 'json')) {
    const report: DoctorReport = { ok, connection: conn.display, slot: slot ?? null, publication: publication ?? null, checks };
    io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    const target = [slot === undefined ? 'no slot' : `slot ${slot}`, publication === undefined ? 'no publication' : `publication ${publication}`].join(', ');
    io.stdout.write(`koyo doctor: ${conn.display} (${target})\n\n`);
    io.stdout.write(formatChecklist(checks));
    if (slot === undefined || publication === undefined) {
      io.stdout.write('Pass --slot and --publication (or set them in koyo.config.ts) to check them too.\n');
    }
  }
  return ok ? EXIT.OK : EXIT.FAILURE;
}
