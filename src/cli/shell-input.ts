/**
 * Reading what the user typed: where a SQL statement ends (like sqlite3_complete: a
 * semicolon outside quotes and comments, and inside CREATE TRIGGER only after END),
 * and how a dot command splits into its name and arguments.
 */

export interface SplitResult {
  /** Complete statements, without the final semicolon, trimmed; empty ones dropped. */
  readonly statements: string[];
  /** Text after the last complete statement (an unfinished statement, maybe only blanks). */
  readonly rest: string;
}

type ScanState = 'normal' | 'single' | 'double' | 'backtick' | 'bracket' | 'line-comment' | 'block-comment';

const closers: Partial<Record<ScanState, string>> = { single: "'", double: '"', backtick: '`', bracket: ']' };

export function splitStatements(text: string): SplitResult {
  const statements: string[] = [];
  let state: ScanState = 'normal';
  let start = 0;
  let words: string[] = [];
  let word = '';
  const endWord = (): void => {
    if (word !== '') words.push(word.toUpperCase());
    word = '';
  };
  for (let index = 0; index < text.length; index += 1) {
    const character = text[index] as string;
    const next = text[index + 1];
    if (state !== 'normal') {
      state = advanceQuoted(state, character, next);
      if (state === 'normal' && character === '*') index += 1;
      continue;
    }
    if (/[A-Za-z0-9_$]/.test(character)) {
      word += character;
      continue;
    }
    endWord();
    if (character === ';') {
      if (isTrigger(words) && words.at(-1) !== 'END') continue;
      pushStatement(statements, text.slice(start, index));
      start = index + 1;
      words = [];
      continue;
    }
    state = openingState(character, next);
    if (state === 'line-comment' || state === 'block-comment') index += 1;
  }
  return { statements, rest: text.slice(start) };
}

function advanceQuoted(state: ScanState, character: string, next: string | undefined): ScanState {
  if (state === 'line-comment') return character === '\n' ? 'normal' : state;
  if (state === 'block-comment') return character === '*' && next === '/' ? 'normal' : state;
  // A doubled quote inside a string is an escaped quote: the scan re-enters on the next character.
  return character === closers[state] ? 'normal' : state;
}

function openingState(character: string, next: string | undefined): ScanState {
  if (character === "'") return 'single';
  if (character === '"') return 'double';
  if (character === '`') return 'backtick';
  if (character === '[') return 'bracket';
  if (character === '-' && next === '-') return 'line-comment';
  if (character === '/' && next === '*') return 'block-comment';
  return 'normal';
}

function isTrigger(words: readonly string[]): boolean {
  if (words[0] !== 'CREATE') return false;
  const second = words[1];
  if (second === 'TRIGGER') return true;
  return (second === 'TEMP' || second === 'TEMPORARY') && words[2] === 'TRIGGER';
}

function pushStatement(statements: string[], raw: string): void {
  const statement = raw.trim();
  if (stripComments(statement).trim() !== '') statements.push(statement);
}

/** Removes -- and /* *\/ comments outside strings (used to tell blank input). */
export function stripComments(text: string): string {
  let result = '';
  let state: ScanState = 'normal';
  for (let index = 0; index < text.length; index += 1) {
    const character = text[index] as string;
    const next = text[index + 1];
    if (state === 'line-comment' || state === 'block-comment') {
      state = advanceQuoted(state, character, next);
      if (state === 'normal' && character === '*') index += 1;
      if (state === 'normal' && character === '\n') result += '\n';
      continue;
    }
    if (state !== 'normal') {
      result += character;
      state = advanceQuoted(state, character, next);
      continue;
    }
    state = openingState(character, next);
    if (state === 'line-comment' || state === 'block-comment') {
      index += 1;
      continue;
    }
    result += character;
  }
  return result;
}

export interface DotCommand {
  /** Without the dot, lower-case. */
  readonly name: string;
  readonly args: string[];
}

/** Splits `.name arg 'quoted arg' "other"`; returns undefined when the line is not a dot command. */
export function parseDotCommand(line: string): DotCommand | undefined {
  const trimmed = line.trim();
  if (!trimmed.startsWith('.')) return undefined;
  const tokens = tokenizeArguments(trimmed.slice(1));
  const name = tokens.shift();
  if (name === undefined || name === '') return { name: '', args: tokens };
  return { name: name.toLowerCase(), args: tokens };
}

function tokenizeArguments(text: string): string[] {
  const tokens: string[] = [];
  let index = 0;
  while (index < text.length) {
    while (index < text.length && /\s/.test(text[index] as string)) index += 1;
    if (index >= text.length) break;
    const quote = text[index];
    if (quote === "'" || quote === '"') {
      const end = text.indexOf(quote, index + 1);
      const stop = end < 0 ? text.length : end;
      tokens.push(text.slice(index + 1, stop));
      index = stop + 1;
      continue;
    }
    let end = index;
    while (end < text.length && !/\s/.test(text[end] as string)) end += 1;
    tokens.push(text.slice(index, end));
    index = end;
  }
  return tokens;
}
