export {
  SqlFingerprinter,
  type SqlFingerprinterOptions,
  type SqlFingerprinterStats,
  type SqlShape,
} from './fingerprinter';
export {
  mainStatement,
  nodeType,
  operationOf,
  type PgNode,
  type PgRawStmt,
  parseStatements,
  tableOf,
} from './parse-tree';
export { dialectOf, type SqlDialect } from './sql-scanner';
export { MAX_STATEMENT_CHARS } from './sql-statement';
