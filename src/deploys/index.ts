export { type DeploysResponse, deploysResponse, RUNNING_WITHIN_MS } from './api';
export { type DeployThresholds, routeRegression, statementChanges } from './compare';
export {
  type DeployComparison,
  DeployTracker,
  type ServiceDeploys,
  type VersionEntry,
} from './deploy-tracker';
export type { RouteFigures, StatementFigures } from './version-profile';
