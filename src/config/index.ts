export { DEFAULTS } from './defaults';
export { type LoadOptions, loadConfig } from './load';
export { configSchema, type SpanstatConfig } from './schema';
