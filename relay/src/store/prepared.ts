/**
 * Prepared statements, compiled once per database and SQL text. better-sqlite3's
 * `db.prepare` compiles the SQL every time it is called (tens of microseconds): the bucket
 * rows, token checks and upload writes run it for every bucket, request and part.
 *
 * Only for statements run to completion (`run`, `get`, `all`); a statement being iterated
 * (`iterate`) is busy until the iteration ends, so those are prepared where they are used.
 */
import type Database from 'better-sqlite3';

const caches = new WeakMap<Database.Database, Map<string, Database.Statement>>();

export function prepared(db: Database.Database, sql: string): Database.Statement {
  let cache = caches.get(db);
  if (cache === undefined) {
    cache = new Map();
    caches.set(db, cache);
  }
  let statement = cache.get(sql);
  if (statement === undefined) {
    statement = db.prepare(sql);
    cache.set(sql, statement);
  }
  return statement;
}
