// Names the @koyo/cli README's fragments use that the reader's app defines.
declare const jobs: { add(name: string, data: unknown): Promise<void> };
