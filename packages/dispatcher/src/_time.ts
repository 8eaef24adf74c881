// Time formatting for Change objects (LSNs are @koyo/pgoutput's: formatLsn/parseLsn).

/** Microseconds since the Unix epoch -> ISO 8601 with microseconds (`...T10:00:00.123456Z`). */
export function isoMicros(micros: bigint): string {
  let ms = micros / 1000n;
  let rest = micros % 1000n;
  if (rest < 0n) {
    rest += 1000n;
    ms -= 1n;
  }
  const iso = new Date(Number(ms)).toISOString(); // ...T10:00:00.123Z
  return `${iso.slice(0, -1)}${rest.toString().padStart(3, '0')}Z`;
}
