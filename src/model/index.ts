export * from './attributes';
export * from './classified';
export * from './request-summary';
export * from './span';
