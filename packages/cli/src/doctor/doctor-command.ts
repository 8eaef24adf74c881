import { diagnose, type DiagnosticCheck } from '@koyo/slot';
import { type CommandSpec, flagValue, type ParsedArgs } from '../args.js';
import {
  commandContext,
  publicationName,
  resolveConnection,
  slotName,
  type CliIo,
  type CommandContext,
} from '../context.js';
import { EXIT, KoyoCliError } from '../errors.js';
import { resolveNatsSettings, wantsNats } from '../nats-settings.js';
import { importNats } from '../optional.js';

/** The JSON `koyo doctor --json` prints. */
export interface DoctorReport {
  /** True when every check passed. */
  ok: boolean;
  /** The connection checked (password hidden). */
  connection: string;
  slot: string | null;
  publication: string | null;
  /** The NATS servers and stream checked for `koyo relay nats`, or null when NATS was not checked. */
  nats: { servers: string[]; stream: string } | null;
  checks: DiagnosticCheck[];
}

/** What `koyo relay nats` needs of NATS, when the config has relay.nats or --nats-servers is given: @koyo/nats's own checks. */
async function natsChecks(
  ctx: CommandContext,
): Promise<{ target: DoctorReport['nats']; checks: DiagnosticCheck[] }> {
  const flags = { servers: 'nats-servers', stream: 'nats-stream' };
  if (!wantsNats(ctx, flags)) return { target: null, checks: [] };
  let nats;
  try {
    nats = await importNats('relay nats', ctx.io.cwd);
  } catch (error) {
    if (!(error instanceof KoyoCliError && error.code === 'MISSING_PACKAGE')) throw error;
    return {
      target: null,
      checks: [
        {
          id: 'nats',
          ok: false,
          severity: 'error',
          message: '@koyo/nats is not installed, and koyo relay nats needs it',
          fix: 'npm install @koyo/nats (next to @koyo/cli)',
        },
      ],
    };
  }
  const settings = resolveNatsSettings(ctx, nats, flags);
  const checks = await nats.checkNats({
    servers: settings.servers,
    stream: settings.stream,
    subjectPrefix: settings.subjectPrefix,
    ...(settings.duplicateWindowMs === undefined
      ? {}
      : { duplicateWindowMs: settings.duplicateWindowMs }),
  });
  return { target: { servers: settings.servers, stream: settings.stream }, checks };
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
export async function run(spec: CommandSpec, args: ParsedArgs, io: CliIo): Promise<number> {
  const ctx = await commandContext(spec, args, io);
  const conn = resolveConnection(ctx);
  const slot = slotName(ctx);
  const publication = publicationName(ctx);
  const checks = await diagnose(conn.connection, {
    ...(slot === undefined ? {} : { slot }),
    ...(publication === undefined ? {} : { publication }),
    ...(flagValue(args, 'origins') ? { origins: true } : {}),
  });
  const nats = await natsChecks(ctx);
  checks.push(...nats.checks);
  const ok = checks.every((check) => check.ok);
  if (flagValue(args, 'json')) {
    const report: DoctorReport = {
      ok,
      connection: conn.display,
      slot: slot ?? null,
      publication: publication ?? null,
      nats: nats.target,
      checks,
    };
    io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    const target = [
      slot === undefined ? 'no slot' : `slot ${slot}`,
      publication === undefined ? 'no publication' : `publication ${publication}`,
    ].join(', ');
    const natsTarget = nats.target
      ? `; NATS ${nats.target.servers.join(',')}, stream ${nats.target.stream}`
      : '';
    io.stdout.write(`koyo doctor: ${conn.display} (${target}${natsTarget})\n\n`);
    io.stdout.write(formatChecklist(checks));
    if (slot === undefined || publication === undefined) {
      io.stdout.write(
        'Pass --slot and --publication (or set them in koyo.config.ts) to check them too.\n',
      );
    }
  }
  return ok ? EXIT.OK : EXIT.FAILURE;
}
