// Names the @koyo/slot README's fragments use that an earlier block or the app defines.
declare const diagnose: typeof import('@koyo/slot').diagnose;
declare const url: string;
declare function save(changes: unknown[]): Promise<void>;
