// The READMEs' ```ts examples, extracted as written and compiled as a strict TypeScript user
// compiles them. One owner: the workspace check and the stranger's npm project both use this, so
// the compiled examples are always the READMEs' current text (no hand-kept copy to drift).
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const fence = /^```ts\s*$/;
const skipMarker = /^<!--\s*readme-check:\s*skip\s*\((.+)\)\s*-->$/;

/** Ambient declarations per README (names the fragments use that are defined elsewhere). */
export const ambientRoot = join(import.meta.dirname, '..', 'readme-ambient');

/**
 * Every ```ts block of every packages/<dir>/README.md: `{ dir, line, code, skip }` where `line` is
 * the README line of the block's first code line and `skip` the reason given by a
 * `<!-- readme-check: skip (reason) -->` marker on the last non-blank line before the fence.
 */
export function extractReadmeExamples(root) {
  const examples = [];
  for (const dir of readdirSync(join(root, 'packages')).sort()) {
    const readme = join(root, 'packages', dir, 'README.md');
    if (!existsSync(readme)) continue;
    const lines = readFileSync(readme, 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      if (!fence.test(lines[i])) continue;
      let before = i - 1;
      while (before >= 0 && lines[before].trim() === '') before--;
      const skip = before >= 0 ? skipMarker.exec(lines[before].trim())?.[1] : undefined;
      const end = lines.findIndex((line, j) => j > i && line.startsWith('```'));
      if (end === -1) throw new Error(`packages/${dir}/README.md:${i + 1}: unclosed code block`);
      examples.push({ dir, line: i + 2, code: lines.slice(i + 1, end).join('\n'), skip });
      i = end;
    }
  }
  return examples;
}

/**
 * Writes one module per compiled example into `into`/<dir>/ (the code unchanged, so a
 * diagnostic's line plus the block's offset is the README line), beside the README's ambient files.
 * Returns the projects to compile: `{ dir, files }` per README.
 */
export function writeReadmeExamples(examples, into) {
  const projects = new Map();
  for (const example of examples.filter((e) => e.skip === undefined)) {
    const folder = join(into, example.dir);
    if (!projects.has(example.dir)) {
      mkdirSync(folder, { recursive: true });
      const ambient = join(ambientRoot, example.dir);
      if (existsSync(ambient)) cpSync(ambient, folder, { recursive: true });
      const extra = existsSync(ambient) ? readdirSync(ambient).map((f) => join(folder, f)) : [];
      projects.set(example.dir, { dir: example.dir, files: extra, examples: new Map() });
    }
    const project = projects.get(example.dir);
    const file = join(folder, `readme-line-${example.line}.ts`);
    writeFileSync(file, `${example.code}\nexport {};\n`);
    project.files.push(file);
    project.examples.set(file, example);
  }
  return [...projects.values()];
}

/** The two resolutions a strict TypeScript user of ESM packages has. */
export const resolutionModes = {
  nodenext: { module: 'nodenext', moduleResolution: 'nodenext' },
  bundler: { module: 'esnext', moduleResolution: 'bundler' },
};

/**
 * Compiles each README's examples as one strict, noEmit program under `mode` with the `ts`
 * module given (the workspace's or the stranger's TypeScript). Returns the errors as
 * `packages/<dir>/README.md:<line>: <message>` strings (empty when everything compiles).
 */
export function compileReadmeExamples(ts, projects, mode, root) {
  const { module, moduleResolution } = resolutionModes[mode];
  const options = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind[module === 'nodenext' ? 'NodeNext' : 'ESNext'],
    moduleResolution:
      ts.ModuleResolutionKind[moduleResolution === 'nodenext' ? 'NodeNext' : 'Bundler'],
    skipLibCheck: true,
    esModuleInterop: true,
    types: ['node'],
  };
  const host = ts.createCompilerHost(options);
  const errors = [];
  let oldProgram;
  for (const project of projects) {
    const program = ts.createProgram({ rootNames: project.files, options, host, oldProgram });
    oldProgram = program; // shares the parsed lib and package declaration files
    for (const d of ts.getPreEmitDiagnostics(program)) {
      const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
      const example = d.file && project.examples.get(d.file.fileName);
      if (!d.file) errors.push(`${project.dir}: ${message}`);
      else if (!example)
        errors.push(`${relative(root, d.file.fileName)}: ${message}`); // an ambient file
      else {
        const { line } = d.file.getLineAndCharacterOfPosition(d.start ?? 0);
        errors.push(`packages/${example.dir}/README.md:${example.line + line}: ${message}`);
      }
    }
  }
  return errors;
}
