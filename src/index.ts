/**
 * The package's main entry (`require('spanstat')`): the app-facing API, the same as `spanstat/job`.
 * The preload is `spanstat/preload`, the sidecar the `spanstat` CLI.
 */
export { runJob, wrapJob } from './job';
