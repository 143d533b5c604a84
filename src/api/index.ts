export { type ApiHandlers, ApiServer, type ApiServerOptions } from './api-server';
export { parseReportQuery } from './query-params';
