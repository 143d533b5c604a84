import { beforeAll, describe, expect, it } from 'vitest';
import { batchAdvice } from '../../src/advise/rules/n-plus-one';
import {
  typeormAlias,
  typeormPagedFetch,
  typeormRelationLoad,
  typeormSaveLoad,
} from '../../src/advise/rules/typeorm-shape';
import { SqlFingerprinter } from '../../src/sql';

let fp: SqlFingerprinter;
beforeAll(async () => {
  fp = await SqlFingerprinter.create({ cacheEntries: 100, maxParseBytes: 64 * 1024 });
});
/** The statement as the sidecar keeps it: TypeORM's text, normalized by the fingerprinter. */
const kept = (text: string) => fp.fingerprint('postgresql', text).statement;

// Raw SQL as TypeORM 1.1.1 sent it (logged from its query runner), literals as TypeORM leaves them.
const TYPEORM = {
  lazyOneToMany:
    'SELECT "posts"."id" AS "posts_id", "posts"."deletedAt" AS "posts_deletedAt", "posts"."authorId" AS "posts_authorId" ' +
    'FROM "lz_post" "posts" WHERE ( "posts"."authorId" IN ($1) ) AND ( "posts"."deletedAt" IS NULL )',
  lazyManyToOne:
    'SELECT "author"."id" AS "author_id", "author"."deletedAt" AS "author_deletedAt" FROM "lz_author" "author" ' +
    'INNER JOIN "lz_post" "Post" ON  "Post"."authorId" = "author"."id" AND "Post"."deletedAt" IS NULL ' +
    'WHERE ( "Post"."id" IN ($1) ) AND ( "author"."deletedAt" IS NULL )',
  findByIn:
    'SELECT "Post"."id" AS "Post_id", "Post"."deletedAt" AS "Post_deletedAt", "Post"."authorId" AS "Post_authorId" ' +
    'FROM "lz_post" "Post" WHERE ( (("Post"."id" IN ($1))) ) AND ( "Post"."deletedAt" IS NULL )',
  saveRead:
    'SELECT "Thing"."id" AS "Thing_id", "Thing"."n" AS "Thing_n", "Thing"."deletedAt" AS "Thing_deletedAt" ' +
    'FROM "lz_thing" "Thing" WHERE "Thing"."id" = $1',
  findOneBy:
    'SELECT "Thing"."id" AS "Thing_id", "Thing"."n" AS "Thing_n", "Thing"."deletedAt" AS "Thing_deletedAt" ' +
    'FROM "lz_thing" "Thing" WHERE ( (("Thing"."id" = $1)) ) AND ( "Thing"."deletedAt" IS NULL ) LIMIT 1',
  // findOne({ where: { author: { id } }, relations: { author: true } }): the ids, then the rows (ids inlined).
  pagedIds:
    'SELECT DISTINCT "distinctAlias"."Post_id" AS "ids_Post_id" FROM (SELECT "Post"."id" AS "Post_id", ' +
    '"Post__Post_author"."id" AS "Post__Post_author_id" FROM "lz_post" "Post" LEFT JOIN "lz_author" "Post__Post_author" ' +
    'ON "Post__Post_author"."id"="Post"."authorId" AND ("Post__Post_author"."deletedAt" IS NULL) ' +
    'WHERE ( (((("Post__Post_author"."id" = $1)))) ) AND ( "Post"."deletedAt" IS NULL )) "distinctAlias" ' +
    'ORDER BY "Post_id" ASC LIMIT 1',
  pagedRows:
    'SELECT "Post"."id" AS "Post_id", "Post__Post_author"."id" AS "Post__Post_author_id" FROM "lz_post" "Post" ' +
    'LEFT JOIN "lz_author" "Post__Post_author" ON "Post__Post_author"."id"="Post"."authorId" AND ("Post__Post_author"."deletedAt" IS NULL) ' +
    'WHERE ( (((("Post__Post_author"."id" = $1)))) ) AND ( "Post"."deletedAt" IS NULL ) AND ( "Post"."id" IN (3) )',
};

describe("TypeORM's SQL as the sidecar keeps it", () => {
  it('is told by its select list, and Knex or hand-written SQL is not', () => {
    expect(typeormAlias(kept(TYPEORM.findOneBy))).toBe('Thing');
    expect(
      typeormAlias(kept('select "email" as "email" from "users" where "id" = $1 limit 1')),
    ).toBeUndefined();
    expect(typeormAlias(kept('SELECT u.id AS u_id FROM users u WHERE u.id = $1'))).toBeUndefined();
  });

  it("reads a lazy relation's load by the relation's alias, not find's or save's reads", () => {
    expect(typeormRelationLoad(kept(TYPEORM.lazyOneToMany))).toBe('posts');
    expect(typeormRelationLoad(kept(TYPEORM.lazyManyToOne))).toBe('author');
    expect(typeormRelationLoad(kept(TYPEORM.findByIn))).toBeUndefined();
    expect(typeormRelationLoad(kept(TYPEORM.saveRead))).toBeUndefined();
  });

  it("reads save()'s read of an entity apart from findOneBy's", () => {
    expect(typeormSaveLoad(kept(TYPEORM.saveRead))).toBe(true);
    expect(typeormSaveLoad(kept(TYPEORM.findOneBy))).toBe(false);
  });

  it("reads findOne's two queries with joined relations (DISTINCT ids, then rows) and nothing else as a paged fetch", () => {
    expect(typeormPagedFetch(kept(TYPEORM.pagedIds))).toBe(true);
    expect(typeormPagedFetch(kept(TYPEORM.pagedRows))).toBe(true);
    for (const other of [TYPEORM.lazyOneToMany, TYPEORM.findByIn, TYPEORM.findOneBy, TYPEORM.saveRead])
      expect(typeormPagedFetch(kept(other)), other).toBe(false);
  });

  it('gives each shape its TypeORM fix', () => {
    for (const paged of [TYPEORM.pagedIds, TYPEORM.pagedRows]) {
      const advice = batchAdvice(kept(paged));
      expect(advice, paged).toContain('`find({ where: { <property>: In(ids) }, relations })` without `take`');
      expect(advice, paged).not.toContain('lazy relation');
    }
    expect(batchAdvice(kept(TYPEORM.lazyOneToMany))).toContain('find({ relations: { posts: true } })');
    expect(batchAdvice(kept(TYPEORM.findOneBy))).toContain('findBy({ id: In(ids) })');
    expect(batchAdvice(kept(TYPEORM.saveRead))).toContain('one `save([...])`');
  });
});
