/**
 * rqlite expands environment variables in its -auto-backup and -auto-restore files
 * before parsing them (Go's os.ExpandEnv), so credentials can stay out of the file:
 * `"access_key_id": "$ACCESS_KEY_ID"`. This is the same expansion, rule for rule:
 * `$NAME` (letters, digits, `_`), `${NAME}` (anything up to `}`), `$` followed by one
 * shell special character (`*#$@!?-` or a digit); an unset variable expands to nothing;
 * `$` followed by anything else stays as it is; `${}` and an unclosed `${` are dropped.
 */

const shellSpecialCharacters = new Set(['*', '#', '$', '@', '!', '?', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);

function isNameCharacter(character: string): boolean {
  return /^[A-Za-z0-9_]$/.test(character);
}

/** The variable name after a `$` at the start of `text`, and how many characters it took (Go's getShellName). */
function shellName(text: string): { readonly name: string; readonly width: number } {
  const first = text[0] as string;
  if (first === '{') {
    if (text.length > 2 && shellSpecialCharacters.has(text[1] as string) && text[2] === '}') return { name: text[1] as string, width: 3 };
    const close = text.indexOf('}', 1);
    if (close === 1) return { name: '', width: 2 };
    if (close === -1) return { name: '', width: 1 };
    return { name: text.slice(1, close), width: close + 1 };
  }
  if (shellSpecialCharacters.has(first)) return { name: first, width: 1 };
  let width = 0;
  while (width < text.length && isNameCharacter(text[width] as string)) width += 1;
  return { name: text.slice(0, width), width };
}

/** `text` with every variable replaced by `lookup(name) ?? ''`, as Go's os.Expand. */
export function expandEnvironment(text: string, lookup: (name: string) => string | undefined): string {
  let output = '';
  let copiedUpTo = 0;
  for (let position = 0; position < text.length; position += 1) {
    if (text[position] !== '$' || position + 1 >= text.length) continue;
    output += text.slice(copiedUpTo, position);
    const { name, width } = shellName(text.slice(position + 1));
    if (name === '' && width === 0) output += '$';
    else if (name !== '') output += lookup(name) ?? '';
    position += width;
    copiedUpTo = position + 1;
  }
  return output + text.slice(copiedUpTo);
}
