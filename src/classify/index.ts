export { firstAttr, numberAttr, stringAttr } from './attributes';
export { type KeyNamespacer, SpanClassifier, type SqlShaper } from './classify-span';
export { isIdLikeSegment, templatePath } from './route-template';
