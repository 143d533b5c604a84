/**
 * Which versions each service ran (`service.version` of its resources) and what each served: the deploy
 * markers, and the figures the `deploy-regression` rule compares. No I/O and no timers: the pipeline
 * calls `versionSeen` once per resource and `recordRequest` once per request summary, at its receive
 * clock; readers pass the time they read at.
 *
 * Per service:
 * - a history of versions (first and last seen, requests, when each last became current), at most
 *   MAX_VERSIONS_PER_SERVICE, the least recently seen dropped first (never the current or the baseline);
 * - the current version: the one that arrived last. A version arrives when first seen, or when seen again
 *   after the current one has not been seen for REAPPEAR_GAP_MS (a rollback). During a rolling deploy both
 *   are seen: the older one does not take over again;
 * - the baseline: the version the current one is compared with. At a deploy the outgoing version becomes
 *   it, unless the outgoing one had itself regressed against the baseline and had not settled
 *   (`advisor.deploy.settleMinutes`), or served too little to compare while a baseline exists: then the
 *   baseline stays, so a hotfix is compared with the last good version, not with the bad one;
 * - per-version profiles (version-profile.ts) of the current version, the baseline while it still runs,
 *   and one more (a third version mid-rollout). Requests are counted by the version of their own
 *   resource, so in a rolling deploy or a canary each version's figures are its own. Once the baseline's
 *   version has not been seen for two periods its figures are frozen (numbers only) and its profile freed.
 *
 * `snapshot` and `restore` carry all of this but the live profiles across a sidecar restart (the state file,
 * deploy-state.ts): the current version's and the baseline's figures go as numbers, read as each version
 * ran last, and after a restore they stand in for the profiles those versions no longer have (withRestored).
 */
import type { RequestSummary } from '../model/request-summary';
import { type DeployThresholds, regressed, routeRegression } from './compare';
import type { DeploysSnapshot, ServiceSnapshot } from './deploy-state';
import { type RouteFigures, VersionProfile, withRestored } from './version-profile';

/** Services with a version history; versions of further services are not tracked. */
export const MAX_SERVICES = 256;
/** Versions remembered per service. */
export const MAX_VERSIONS_PER_SERVICE = 20;
/** Live version profiles per service: the current one, the baseline's, one more mid-rollout. */
const MAX_PROFILES = 3;
/** A known version seen again takes over (a rollback) once the current one has been unseen this long (ms). */
export const REAPPEAR_GAP_MS = 60_000;
/** A statement a snapshot keeps for its fingerprint, flattened and cut (the advice shows 100 characters of it). */
export const MAX_STATE_STATEMENT_CHARS = 256;

export interface VersionEntry {
  version: string;
  firstSeenMs: number;
  lastSeenMs: number;
  /** Requests (and job or consumer runs) it served. */
  requests: number;
  /** When it last became the service's current version (its deploy marker). */
  deployedAtMs: number;
}

/** A service whose current version has a baseline to be compared with: the rule's input. */
export interface DeployComparison {
  service: string;
  version: string;
  deployedAtMs: number;
  /** The version it replaced. */
  previousVersion: string;
  /** The version compared with (the last good one: see the file comment). */
  baselineVersion: string;
  /**
   * The current version has run `settleMinutes` (its figures are the service's normal now), or is the
   * baseline itself (a rollback to it): nothing is compared.
   */
  settled: boolean;
  baseline: RouteFigures[];
  current: RouteFigures[];
  /** Normalized statements of the fingerprints in either figures, where known. */
  statements: Record<string, string>;
}

/** `GET /api/v1/deploys`: one service. */
export interface ServiceDeploys {
  service: string;
  currentVersion: string;
  deployedAtMs: number;
  previousVersion: string | null;
  baselineVersion: string | null;
  settled: boolean;
  /** Newest deploy first. */
  versions: VersionEntry[];
  /** Routes of the current version beside the baseline's figures (busiest first). */
  routes: { method: string; route: string; baseline: RouteFigures | null; current: RouteFigures }[];
}

export interface DeployTrackerOptions {
  thresholds: DeployThresholds;
  /** DDSketch accuracy of the per-version latency sketches (aggregation.relativeAccuracy). */
  relativeAccuracy: number;
  /** The receive clock requests are stamped with (the pipeline's slice clock). */
  recordNow: () => number;
  /** A fingerprint's normalized statement (the aggregator's query table). */
  statementOf?: (service: string, fingerprint: string) => string | undefined;
}

interface ServiceState {
  versions: VersionEntry[];
  current: VersionEntry;
  previous: string | undefined;
  baselineVersion: string | undefined;
  /** The baseline's figures once frozen; undefined while its profile is live. */
  baselineFigures: RouteFigures[] | undefined;
  profiles: Map<string, VersionProfile>;
  /**
   * Figures of the current version and the baseline from before a restart (restore), each read at its
   * version's `lastSeenMs` then (`atMs`): they count as a profile's figures would, for one to two periods
   * after that.
   */
  restored: Map<string, { atMs: number; routes: RouteFigures[] }>;
  /** Normalized statements of the restored figures' fingerprints (the aggregator starts empty). */
  restoredStatements: Map<string, string>;
}

export class DeployTracker {
  private readonly services = new Map<string, ServiceState>();
  private readonly periodMs: number;
  private readonly settleMs: number;

  constructor(private readonly options: DeployTrackerOptions) {
    this.periodMs = options.thresholds.windowSeconds * 1000;
    this.settleMs = options.thresholds.settleMinutes * 60_000;
  }

  /** A resource of `service` named `version` (the pipeline: once per resource of each body). */
  versionSeen(service: string, version: string, nowMs: number): void {
    this.entry(service, version, nowMs);
  }

  recordRequest(summary: RequestSummary): void {
    const version = summary.version;
    if (version === undefined) return;
    const nowMs = this.options.recordNow();
    const found = this.entry(summary.service, version, nowMs);
    if (found === undefined) return;
    const [state, entry] = found;
    entry.requests++;
    let profile = state.profiles.get(version);
    if (profile === undefined) {
      if (state.profiles.size >= MAX_PROFILES) return;
      profile = new VersionProfile(this.periodMs, this.options.relativeAccuracy);
      state.profiles.set(version, profile);
    }
    profile.add(summary, nowMs);
  }

  /** Services with a baseline, with both versions' figures at `nowMs` (see DeployComparison.settled). */
  comparisons(nowMs: number): DeployComparison[] {
    const out: DeployComparison[] = [];
    for (const [service, state] of this.services) {
      this.maintain(state, nowMs);
      const baselineVersion = state.baselineVersion;
      if (baselineVersion === undefined) continue;
      const current = this.figuresOf(state, state.current.version, nowMs);
      // Rolled back to the baseline itself: nothing to compare, and what the bad version raised resolves.
      const rolledBack = baselineVersion === state.current.version;
      const baseline = rolledBack ? [] : this.baselineFigures(state);
      out.push({
        service,
        version: state.current.version,
        deployedAtMs: state.current.deployedAtMs,
        previousVersion: state.previous ?? baselineVersion,
        baselineVersion,
        settled: rolledBack || nowMs - state.current.deployedAtMs >= this.settleMs,
        baseline,
        current,
        statements: this.statementsOf(service, state, baseline, current),
      });
    }
    return out;
  }

  /** The deploy history and the current comparison figures, per service (the API, the CLI, the page). */
  report(nowMs: number, service?: string): ServiceDeploys[] {
    const out: ServiceDeploys[] = [];
    for (const [name, state] of this.services) {
      if (service !== undefined && name !== service) continue;
      this.maintain(state, nowMs);
      const baselineVersion =
        state.baselineVersion !== state.current.version ? state.baselineVersion : undefined;
      const baseline = baselineVersion === undefined ? [] : this.baselineFigures(state);
      const byRoute = new Map(baseline.map((r) => [`${r.method} ${r.route}`, r]));
      const current = this.figuresOf(state, state.current.version, nowMs).sort(
        (a, b) => b.requests - a.requests,
      );
      out.push({
        service: name,
        currentVersion: state.current.version,
        deployedAtMs: state.current.deployedAtMs,
        previousVersion: state.previous ?? null,
        baselineVersion: baselineVersion ?? null,
        settled: nowMs - state.current.deployedAtMs >= this.settleMs,
        versions: [...state.versions].sort((a, b) => b.deployedAtMs - a.deployedAtMs).map((v) => ({ ...v })),
        routes: current.map((c) => ({
          method: c.method,
          route: c.route,
          baseline: byRoute.get(`${c.method} ${c.route}`) ?? null,
          current: c,
        })),
      });
    }
    return out.sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : 0));
  }

  /** Versions each service served within `withinMs` of `nowMs` (the version info metric). */
  runningVersions(nowMs: number, withinMs: number): { service: string; version: string }[] {
    const out: { service: string; version: string }[] = [];
    for (const [service, state] of this.services)
      for (const v of state.versions)
        if (nowMs - v.lastSeenMs <= withinMs) out.push({ service, version: v.version });
    return out;
  }

  /** The service's state and the version's entry, created (or the version made current) as it arrives. */
  private entry(service: string, version: string, nowMs: number): [ServiceState, VersionEntry] | undefined {
    let state = this.services.get(service);
    if (state === undefined) {
      if (this.services.size >= MAX_SERVICES) return undefined;
      const first = newEntry(version, nowMs);
      state = {
        versions: [first],
        current: first,
        previous: undefined,
        baselineVersion: undefined,
        baselineFigures: undefined,
        profiles: new Map(),
        restored: new Map(),
        restoredStatements: new Map(),
      };
      this.services.set(service, state);
      return [state, first];
    }
    const current = state.current;
    if (current.version === version) {
      if (nowMs > current.lastSeenMs) current.lastSeenMs = nowMs;
      return [state, current];
    }
    let entry = state.versions.find((v) => v.version === version);
    if (entry === undefined) {
      entry = newEntry(version, nowMs);
      this.deploy(state, entry, nowMs);
      state.versions.push(entry);
      this.capVersions(state);
    } else if (nowMs - current.lastSeenMs >= REAPPEAR_GAP_MS && nowMs - entry.lastSeenMs >= REAPPEAR_GAP_MS) {
      // A rollback (or an old instance back after a gap): the current version is gone, this one is back.
      entry.deployedAtMs = nowMs;
      this.deploy(state, entry, nowMs);
    }
    if (nowMs > entry.lastSeenMs) entry.lastSeenMs = nowMs;
    return [state, entry];
  }

  private deploy(state: ServiceState, incoming: VersionEntry, nowMs: number): void {
    const outgoing = state.current;
    const outFigures = this.figuresOf(state, outgoing.version, outgoing.lastSeenMs);
    const t = this.options.thresholds;
    const servedEnough = outFigures.some((r) => r.requests >= t.minRequests);
    // A version that served too little is no better a baseline than one that served enough.
    let keep =
      state.baselineVersion !== undefined &&
      !servedEnough &&
      this.baselineFigures(state).some((r) => r.requests >= t.minRequests);
    if (
      state.baselineVersion !== undefined &&
      servedEnough &&
      nowMs - outgoing.deployedAtMs < this.settleMs
    ) {
      const base = new Map(this.baselineFigures(state).map((r) => [`${r.method} ${r.route}`, r]));
      keep = outFigures.some((cur) => {
        const b = base.get(`${cur.method} ${cur.route}`);
        return (
          b !== undefined &&
          b.requests >= t.minRequests &&
          cur.requests >= t.minRequests &&
          regressed(routeRegression(b, cur, t))
        );
      });
    }
    // With no baseline yet, the outgoing version is it even if it served little so far: mid-rollout it goes on
    // serving, and routes are compared only once both sides have minRequests.
    if (!keep) {
      this.dropProfile(state, state.baselineVersion);
      state.baselineVersion = outgoing.version;
      state.baselineFigures = undefined;
      if (!state.profiles.has(outgoing.version)) state.baselineFigures = outFigures;
    }
    state.previous = outgoing.version;
    state.current = incoming;
    // Profiles of versions that are neither current nor the baseline give way to the incoming one.
    for (const v of [...state.profiles.keys()])
      if (v !== incoming.version && v !== state.baselineVersion && state.profiles.size >= MAX_PROFILES)
        state.profiles.delete(v);
    for (const v of [...state.restored.keys()])
      if (v !== incoming.version && v !== state.baselineVersion) state.restored.delete(v);
  }

  /** Freezes the baseline's figures once its version stopped; frees profiles of versions no longer seen. */
  private maintain(state: ServiceState, nowMs: number): void {
    for (const version of [...state.profiles.keys()]) {
      if (version === state.current.version) continue;
      const entry = state.versions.find((v) => v.version === version);
      const lastSeenMs = entry?.lastSeenMs ?? Number.NEGATIVE_INFINITY;
      if (nowMs - lastSeenMs < 2 * this.periodMs) continue;
      if (version === state.baselineVersion)
        state.baselineFigures = this.figuresOf(state, version, lastSeenMs);
      state.profiles.delete(version);
    }
  }

  private baselineFigures(state: ServiceState): RouteFigures[] {
    if (state.baselineFigures !== undefined) return state.baselineFigures;
    const version = state.baselineVersion;
    if (version === undefined) return [];
    const entry = state.versions.find((v) => v.version === version);
    return this.figuresOf(state, version, entry?.lastSeenMs ?? 0);
  }

  /** The version's profile's figures at `atMs`, with its restored ones while those are as recent as a profile's. */
  private figuresOf(state: ServiceState, version: string, atMs: number): RouteFigures[] {
    const live = state.profiles.get(version)?.figures(atMs) ?? [];
    const restored = state.restored.get(version);
    if (restored === undefined) return live;
    // A profile reads its last one to two periods: restored figures count as long as they would have.
    if (Math.floor(atMs / this.periodMs) - Math.floor(restored.atMs / this.periodMs) > 1) return live;
    return withRestored(live, restored.routes, this.options.thresholds.minRequests);
  }

  private dropProfile(state: ServiceState, version: string | undefined): void {
    if (version !== undefined && version !== state.current.version) state.profiles.delete(version);
  }

  private capVersions(state: ServiceState): void {
    while (state.versions.length > MAX_VERSIONS_PER_SERVICE) {
      let oldest = -1;
      for (let i = 0; i < state.versions.length; i++) {
        const v = state.versions[i];
        if (v === state.current || v.version === state.baselineVersion) continue;
        if (oldest < 0 || v.lastSeenMs < state.versions[oldest].lastSeenMs) oldest = i;
      }
      if (oldest < 0) return;
      const [gone] = state.versions.splice(oldest, 1);
      state.profiles.delete(gone.version);
      state.restored.delete(gone.version);
    }
  }

  private statementsOf(
    service: string,
    state: ServiceState,
    ...figures: RouteFigures[][]
  ): Record<string, string> {
    const out: Record<string, string> = {};
    const lookup = this.options.statementOf;
    for (const list of figures)
      for (const r of list)
        for (const s of r.statements) {
          if (s.fingerprint in out) continue;
          const text = lookup?.(service, s.fingerprint) ?? state.restoredStatements.get(s.fingerprint);
          if (text !== undefined) out[s.fingerprint] = text;
        }
    return out;
  }

  /**
   * Every service's history, baseline and the figures a restart would lose (the current version's and the
   * baseline's, as each ran last), as plain data for the state file. Called every `state.saveIntervalSeconds`
   * and at shutdown, never per request.
   */
  snapshot(nowMs: number): DeploysSnapshot {
    const services: ServiceSnapshot[] = [];
    for (const [service, state] of this.services) {
      this.maintain(state, nowMs);
      const current = state.current;
      const baselineVersion = state.baselineVersion;
      const figures = [
        { version: current.version, routes: this.figuresOf(state, current.version, current.lastSeenMs) },
      ];
      if (baselineVersion !== undefined && baselineVersion !== current.version)
        figures.push({ version: baselineVersion, routes: this.baselineFigures(state) });
      const statements: Record<string, string> = {};
      for (const [fp, text] of Object.entries(
        this.statementsOf(service, state, ...figures.map((f) => f.routes)),
      ))
        statements[fp] = text.replace(/\s+/g, ' ').trim().slice(0, MAX_STATE_STATEMENT_CHARS);
      services.push({
        service,
        currentVersion: current.version,
        previousVersion: state.previous ?? null,
        baselineVersion: baselineVersion ?? null,
        versions: state.versions.map((v) => ({ ...v })),
        figures,
        statements,
      });
    }
    return { services };
  }

  /**
   * Replaces the tracked services with a snapshot's (validated by deploySnapshotSchema): at start, before
   * any span. The versions' profiles start empty; the snapshot's figures stand in for them (figuresOf).
   */
  restore(snapshot: DeploysSnapshot): void {
    this.services.clear();
    for (const s of snapshot.services.slice(0, MAX_SERVICES)) {
      const versions = s.versions.slice(0, MAX_VERSIONS_PER_SERVICE).map((v) => ({ ...v }));
      const current = versions.find((v) => v.version === s.currentVersion);
      if (current === undefined) continue;
      const restored = new Map<string, { atMs: number; routes: RouteFigures[] }>();
      for (const f of s.figures) {
        const entry = versions.find((v) => v.version === f.version);
        if (entry !== undefined) restored.set(f.version, { atMs: entry.lastSeenMs, routes: f.routes });
      }
      this.services.set(s.service, {
        versions,
        current,
        previous: s.previousVersion ?? undefined,
        baselineVersion: s.baselineVersion ?? undefined,
        baselineFigures: undefined,
        profiles: new Map(),
        restored,
        restoredStatements: new Map(Object.entries(s.statements)),
      });
    }
  }
}

function newEntry(version: string, nowMs: number): VersionEntry {
  return { version, firstSeenMs: nowMs, lastSeenMs: nowMs, requests: 0, deployedAtMs: nowMs };
}
