import { describe, expect, it } from 'vitest';
import { commandOf } from '../../src/preload/pg-query';

describe('the command a pg query span is named after', () => {
  it('is the first word of the statement in upper case', () => {
    expect(commandOf('select * from users where id = $1')).toBe('SELECT');
    expect(commandOf('  INSERT INTO t VALUES ($1)')).toBe('INSERT');
  });

  it('drops a trailing semicolon and stops at any whitespace, newlines included', () => {
    expect(commandOf('COMMIT;')).toBe('COMMIT');
    expect(commandOf('WITH x AS (SELECT 1)\nSELECT * FROM x')).toBe('WITH');
    expect(commandOf('SELECT\n  id\nFROM t')).toBe('SELECT');
  });

  it('never includes anything after the first word, so no literal reaches the span name', () => {
    expect(commandOf("UPDATE users SET email = 'a@b.c'")).toBe('UPDATE');
  });
});
