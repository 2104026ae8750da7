/** Model-name globs: `*` matches any run of characters, `?` one character; all else literal. */

/** Compile a glob into a whole-string matcher. */
export function compileGlob(pattern: string): (name: string) => boolean {
  if (!/[*?]/.test(pattern)) return (name) => name === pattern;
  const source = pattern
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[\\^$.|+()[\]{}]/g, '\\$&')))
    .join('');
  const re = new RegExp(`^${source}$`, 's');
  return (name) => re.test(name);
}
