/** Totals the tour prints in its summary. */
export interface TourStats {
  changes: number;
  perTable: string;
  primary: number;
  replica: number;
}

const SQL_WIDTH = 90;

/**
 * Prints the tour: sections, narrated lines, each routed query (`Replica:` / `Primary:` lines
 * from the routers, shortened, once the tour has begun) and each change a handler received;
 * counts them for the summary.
 */
export class Narrator {
  readonly #changes = new Map<string, number>();
  #primary = 0;
  #replica = 0;
  /** Off during set-up (migrations), so the tour shows and counts only its own traffic. */
  #echo = false;

  section(title: string): void {
    this.#echo = true;
    console.log(`\n== ${title}`);
  }

  line(who: string, text: string): void {
    console.log(`${who.padEnd(8)}${text}`);
  }

  /** One routed query from an app's router. */
  query(app: string, line: string): void {
    if (!this.#echo) return;
    if (line.startsWith('Primary:')) this.#primary += 1;
    else if (line.startsWith('Replica:')) this.#replica += 1;
    else return;
    const flat = line.replace(/\s+/g, ' ');
    console.log(
      `${'  route'.padEnd(8)}[${app}] ${flat.length > SQL_WIDTH ? `${flat.slice(0, SQL_WIDTH - 3)}...` : flat}`,
    );
  }

  /** One change delivered to a handler (backfilled rows are counted, not printed one by one). */
  change(table: string, kind: string, id: unknown): void {
    this.#changes.set(table, (this.#changes.get(table) ?? 0) + 1);
    if (kind === 'snapshot') return;
    console.log(
      `${'  koyo'.padEnd(8)}${kind} ${table}${id === null || id === undefined ? '' : ` id=${String(id)}`} -> handler`,
    );
  }

  stats(): TourStats {
    let changes = 0;
    for (const count of this.#changes.values()) changes += count;
    const perTable = [...this.#changes].map(([table, count]) => `${table}: ${count}`).join(', ');
    return { changes, perTable, primary: this.#primary, replica: this.#replica };
  }

  summary(text: string): void {
    console.log(`\n${text}`);
  }
}
