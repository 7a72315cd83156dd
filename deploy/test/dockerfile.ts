/** One Dockerfile instruction: its keyword (upper case) and the rest of its logical line. */
export interface DockerInstruction {
  keyword: string;
  args: string;
}

/**
 * The instructions of a Dockerfile, in order: comment and blank lines dropped (also inside a
 * continued instruction, as Docker does), backslash-continued lines joined with a space.
 */
export function parseDockerfile(text: string): DockerInstruction[] {
  const out: DockerInstruction[] = [];
  let pending = '';
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const continued = line.endsWith('\\');
    pending += `${continued ? line.slice(0, -1) : line} `;
    if (continued) continue;
    const logical = pending.trim();
    pending = '';
    if (logical === '') continue;
    const [keyword = '', ...rest] = logical.split(/\s+/);
    out.push({ keyword: keyword.toUpperCase(), args: rest.join(' ') });
  }
  if (pending.trim() !== '') throw new Error('Dockerfile ends inside a continued instruction');
  return out;
}

/**
 * The variables an ENV instruction sets: `KEY=value` pairs (values optionally double-quoted) or the
 * legacy `KEY value` form.
 */
export function envPairs(args: string): Map<string, string> {
  const pairs = new Map<string, string>();
  if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(args)) {
    const [key = '', ...value] = args.split(/\s+/);
    pairs.set(key, value.join(' '));
    return pairs;
  }
  for (const m of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("([^"]*)"|\S*)/g)) {
    pairs.set(m[1] as string, m[3] ?? (m[2] as string));
  }
  return pairs;
}
