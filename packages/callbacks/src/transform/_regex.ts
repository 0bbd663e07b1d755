import { LimitExceeded } from './_runtime.js';

/**
 * Catastrophic backtracking guard. JavaScript regular expressions backtrack, and one `$match` of a pattern like
 * `/(a+)+$/` on a few dozen characters runs for minutes inside a single native call, where no time limit can
 * reach it. The classic cause is a repeated group whose body can itself repeat without bound (star height 2):
 * `(a+)+`, `(\w*\s?)*`, `(x+){2,}`. Those patterns are refused. Overlapping alternatives under a repetition
 * (`(a|a)*`) are not detected; that gap is documented.
 *
 * @returns why the pattern is refused, or undefined when it is accepted
 */
export function unsafeRegexReason(source: string): string | undefined {
  // One frame per open group: whether its body contains an unbounded quantifier.
  const groups: boolean[] = [false];
  let index = 0;
  while (index < source.length) {
    const char = source[index];
    if (char === '\\') {
      index += 2;
      continue;
    }
    if (char === '[') {
      index = skipClass(source, index);
      continue;
    }
    if (char === '(') {
      groups.push(false);
      index++;
      continue;
    }
    if (char === ')') {
      const repeatsInside = groups.pop() ?? false;
      const after = unboundedQuantifierAt(source, index + 1);
      if (repeatsInside && after > 0) return 'a repeated group that itself repeats (nested quantifiers)';
      if (groups.length === 0) groups.push(false);
      // The group's own repetition, or repetition inside it, makes the enclosing group's body unbounded.
      if (repeatsInside || after > 0) groups[groups.length - 1] = true;
      index += 1 + Math.max(after, 0);
      continue;
    }
    const quantifier = unboundedQuantifierAt(source, index);
    if (quantifier > 0) {
      groups[groups.length - 1] = true;
      index += quantifier;
      continue;
    }
    index++;
  }
  return undefined;
}

/** The length of an unbounded quantifier (`*`, `+`, `{n,}`, with a lazy `?`) starting at `index`, else 0. */
function unboundedQuantifierAt(source: string, index: number): number {
  const char = source[index];
  let length = 0;
  if (char === '*' || char === '+') {
    length = 1;
  } else if (char === '{') {
    const match = /^\{\d+,\}/.exec(source.slice(index, index + 16));
    if (match) length = match[0].length;
  }
  if (length > 0 && source[index + length] === '?') length++;
  return length;
}

function skipClass(source: string, start: number): number {
  let index = start + 1;
  while (index < source.length && source[index] !== ']') index += source[index] === '\\' ? 2 : 1;
  return index + 1;
}

/**
 * The RegExp jsonata is given (its `RegexEngine` option): refuses the patterns {@link unsafeRegexReason}
 * rejects, also for regular expressions that only appear at run time (through `$eval`).
 */
export class GuardedRegExp extends RegExp {
  constructor(pattern: string | RegExp, flags?: string) {
    const source = typeof pattern === 'string' ? pattern : pattern.source;
    const reason = unsafeRegexReason(source);
    if (reason !== undefined) throw new LimitExceeded(`regular expression /${source}/ refused: ${reason}`);
    super(pattern, flags);
  }
}
