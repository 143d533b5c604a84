import { beforeAll, describe, expect, it } from 'vitest';
import { batchAdvice } from '../../src/advise/rules/n-plus-one';
import { prismaRead, prismaTable } from '../../src/advise/rules/prisma-shape';
import { SqlFingerprinter } from '../../src/sql';

let fp: SqlFingerprinter;
beforeAll(async () => {
  fp = await SqlFingerprinter.create({ cacheEntries: 100, maxParseBytes: 64 * 1024 });
});
/** The statement as the sidecar keeps it: Prisma's text, normalized by the fingerprinter. */
const kept = (text: string) => fp.fingerprint('postgresql', text).statement;

const USER_COLUMNS =
  '"public"."User"."id", "public"."User"."email", "public"."User"."name", "public"."User"."createdAt"';
const POST_COLUMNS = '"public"."Post"."id", "public"."Post"."title", "public"."Post"."authorId"';
// Raw SQL as Prisma 7.10 sent it through @prisma/adapter-pg (its query log), the Rust engine's alike.
const PRISMA = {
  findUnique: `SELECT ${USER_COLUMNS} FROM "public"."User" WHERE ("public"."User"."id" = $1 AND 1=1) LIMIT $2 OFFSET $3`,
  findUniqueByEmail: `SELECT ${USER_COLUMNS} FROM "public"."User" WHERE ("public"."User"."email" = $1 AND 1=1) LIMIT $2 OFFSET $3`,
  findFirst: `SELECT ${POST_COLUMNS} FROM "public"."Post" WHERE "public"."Post"."slug" = $1 LIMIT $2 OFFSET $3`,
  findManyByAuthor: `SELECT ${POST_COLUMNS} FROM "public"."Post" WHERE "public"."Post"."authorId" = $1 OFFSET $2`,
  includeLoad: `SELECT ${POST_COLUMNS} FROM "public"."Post" WHERE "public"."Post"."authorId" IN ($1,$2,$3) OFFSET $4`,
  topPerAuthor: `SELECT ${POST_COLUMNS} FROM "public"."Post" WHERE "public"."Post"."authorId" = $1 ORDER BY "public"."Post"."id" ASC LIMIT $2 OFFSET $3`,
  count:
    'SELECT COUNT(*) AS "_count$_all" FROM (SELECT "public"."Comment"."id" FROM "public"."Comment" ' +
    'WHERE "public"."Comment"."postId" = $1 OFFSET $2) AS "sub"',
};

describe("Prisma's SQL as the sidecar keeps it", () => {
  it('is told by its schema-qualified select list, and other SQL is not', () => {
    expect(prismaTable(kept(PRISMA.findUnique))).toBe('User');
    expect(prismaTable(kept(PRISMA.findFirst))).toBe('Post');
    for (const other of [
      'select "id", "email" from "User" where "User"."id" = $1 limit $2', // Drizzle
      'SELECT "User"."id" AS "User_id" FROM "users" "User" WHERE "User"."id" = $1', // TypeORM
      'SELECT u.id FROM public.users u WHERE u.id = $1 LIMIT 1 OFFSET 0',
    ])
      expect(prismaTable(kept(other)), other).toBeUndefined();
  });

  it("takes findUnique's AND 1=1 and every read's LIMIT/OFFSET off the statement", () => {
    expect(prismaRead(kept(PRISMA.findUnique))).toEqual({
      core: `SELECT ${USER_COLUMNS} FROM "public"."User" WHERE ("public"."User"."id" = $1)`,
      unique: true,
      limited: true,
    });
    expect(prismaRead(kept(PRISMA.findManyByAuthor))).toMatchObject({ unique: false, limited: false });
    expect(prismaRead(kept(PRISMA.findFirst))).toMatchObject({ unique: false, limited: true });
  });
});

describe("N+1 advice for Prisma's reads", () => {
  it('names findMany with { in: ids } for findUnique in a loop, with the = ANY form, not the per-id forms', () => {
    const advice = batchAdvice(kept(PRISMA.findUnique));
    expect(advice).toContain('`findUnique` by id');
    expect(advice).toContain('`prisma.user.findMany({ where: { id: { in: ids } } })`');
    expect(advice).toContain(
      `SELECT ${USER_COLUMNS} FROM "public"."User" WHERE ("public"."User"."id" = ANY($1))`,
    );
    expect(advice).toContain('`Promise.all`');
    expect(advice).not.toMatch(/one result per id|DISTINCT ON|\$2=\$3|OFFSET/);
    expect(batchAdvice(kept(PRISMA.findUniqueByEmail))).toContain('{ where: { email: { in: ids } } }');
  });

  it('gives findMany per parent id (its OFFSET is skip, 0) the { in: ids } form, grouped by that column', () => {
    const advice = batchAdvice(kept(PRISMA.findManyByAuthor));
    expect(advice).toContain('`prisma.post.findMany({ where: { authorId: { in: ids } } })`');
    expect(advice).toContain('"public"."Post"."authorId" = ANY($1))');
    expect(advice).toContain('group the rows by authorId');
    expect(advice).not.toMatch(/one result per id|OFFSET/);
  });

  it('keeps the per-id forms beside findFirst, whose LIMIT may cap a non-unique filter', () => {
    const advice = batchAdvice(kept(PRISMA.findFirst));
    expect(advice).toContain('`findFirst`');
    expect(advice).toContain('{ where: { slug: { in: ids } } }');
    expect(advice).toMatch(/Otherwise: .*one result per id/);
  });

  it('names groupBy with { in: ids } or include _count for count per item, beside the GROUP BY form', () => {
    const advice = batchAdvice(kept(PRISMA.count));
    expect(advice).toContain('`count({ where: { postId } })`');
    expect(advice).toContain(
      "`prisma.comment.groupBy({ by: ['postId'], where: { postId: { in: ids } }, _count: { _all: true } })`",
    );
    expect(advice).toContain('`include: { _count: { select: { <relation>: true } } }`');
    expect(advice).toMatch(/Otherwise: .*GROUP BY/);
    expect(batchAdvice(kept(PRISMA.topPerAuthor))).not.toContain('_count');
  });

  it('keeps the per-id forms for ordered pages and counts per item', () => {
    for (const statement of [PRISMA.topPerAuthor, PRISMA.count]) {
      const advice = batchAdvice(kept(statement));
      expect(advice, statement).toMatch(/one result per id/);
      expect(advice, statement).not.toContain('findMany({ where');
    }
  });

  it('tells an include load repeated per item to read the items in one findMany with include', () => {
    const advice = batchAdvice(kept(PRISMA.includeLoad));
    expect(advice).toContain('`include`d relation');
    expect(advice).toContain('`findMany({ where: { id: { in: ids } }, include })`');
  });

  it("names Drizzle's inArray beside the other ORMs' list calls for SQL of no ORM it can tell", () => {
    // Drizzle's select, then its relational findFirst, as recorded from drizzle-orm 0.45.
    expect(batchAdvice(kept('select "id", "email" from "User" where "User"."id" = $1'))).toContain(
      'Drizzle `inArray(table.col, ids)`',
    );
    const findFirst = batchAdvice(
      kept('select "id", "email" from "User" "users" where "users"."id" = $1 limit $2'),
    );
    expect(findFirst).toContain('Drizzle `findFirst`');
    expect(findFirst).toContain('"users"."id" = ANY($1)');
  });
});
