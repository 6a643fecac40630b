/**
 * Shell-style globs for interface, disk and cgroup selection, compiled once per config:
 * `*` and `?` stay within one path segment, `**` crosses `/`, `[...]` is a character class
 * (`[!...]` or `[^...]` negates). Matching happens at rescan time, not per tick.
 */
export function globToRegExp(glob: string): RegExp {
  let re = '^';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        i++;
        // `**/` also matches zero segments, so `a/**/b` matches `a/b`.
        if (glob[i + 1] === '/') {
          i++;
          re += '(?:.*/)?';
        } else {
          re += '.*';
        }
      } else {
        re += '[^/]*';
      }
    } else if (c === '?') {
      re += '[^/]';
    } else if (c === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close < 0) {
        re += '\\[';
        continue;
      }
      let body = glob.slice(i + 1, close);
      let neg = false;
      if (body[0] === '!' || body[0] === '^') {
        neg = true;
        body = body.slice(1);
      }
      body = body.replace(/[\\\]^]/g, '\\$&');
      re += neg ? `[^/${body}]` : `[${body}]`;
      i = close;
    } else {
      re += c.replace(/[.+^${}()|\\/]/g, '\\$&');
    }
  }
  return new RegExp(re + '$');
}

export class GlobSet {
  private readonly res: RegExp[];
  constructor(readonly patterns: readonly string[]) {
    this.res = patterns.map(globToRegExp);
  }
  match(s: string): boolean {
    for (const re of this.res) if (re.test(s)) return true;
    return false;
  }
}

/** Whether a glob has any wildcard or class characters. */
export function hasMagic(segment: string): boolean {
  return /[*?[]/.test(segment);
}
