import { PRIVILEGE_HINT } from '../advise/lock-waits';

/**
 * The HTML report page served at `/`: a static shell that fetches the JSON API and renders tables.
 * Everything shown comes from the same reports as the API, so it carries no literal either.
 */
export function renderReportPage(): string {
  return PAGE;
}

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>spanstat</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1d2330}
h1{font-size:1.3rem}h2{font-size:1.05rem;margin-top:1.6rem}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:.25rem .5rem;border-bottom:1px solid #e3e6ee;text-align:right;white-space:nowrap}
th:first-child,td:first-child,td.text{text-align:left}
td.stmt{text-align:left;white-space:normal;font-family:ui-monospace,monospace;font-size:12px;max-width:48rem}
.bad{color:#b3261e;font-weight:600}.muted{color:#6b7280}
select{margin-left:.5rem}
</style></head>
<body>
<h1>spanstat <span class="muted" id="meta"></span></h1>
<p id="lost" class="bad"></p>
<p id="twice" class="bad"></p>
<label>window<select id="window"><option>all</option><option>1m</option><option>5m</option><option>15m</option></select></label>
<label style="margin-left:1rem">service<select id="service"><option value="">all</option></select></label>
<h2>Where the time goes, per service</h2><div id="services"></div>
<h2>Recommendations</h2><div id="recommendations" class="muted">none</div>
<h2>Deploys</h2><div id="deploys" class="muted">no service.version seen yet</div>
<h2>Endpoints</h2><div id="endpoints"></div>
<h2>Queries by total time</h2><div id="queries"></div>
<h2>Cache hit rate by namespace</h2><div id="cache"></div>
<h2>Connection pools</h2><div id="pools"></div>
<script>
const fmt = (v, d = 1) => typeof v === 'number' ? (Number.isInteger(v) ? v.toLocaleString() : v.toFixed(d)) : (v ?? '');
const pct = (v) => v === null || v === undefined ? '–' : (v * 100).toFixed(1) + '%';
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
// A report, or why there is none: an API error is shown as one, not as an empty table.
function section(report, cols, empty) {
  if (report.error) return '<p class="bad">' + esc(report.error) + '</p>';
  const more = report.totalRows > report.rows.length
    ? '<p class="muted">' + fmt(report.rows.length) + ' of ' + fmt(report.totalRows) + ' rows (the API serves all)</p>' : '';
  return table(report.rows, cols, empty) + more;
}
function table(rows, cols, empty = 'no data yet') {
  if (!rows.length) return '<p class="muted">' + empty + '</p>';
  const head = '<tr>' + cols.map((c) => '<th>' + c[1] + '</th>').join('') + '</tr>';
  const body = rows.map((r) => '<tr>' + cols.map((c) => {
    const v = c[2] ? c[2](r[c[0]], r) : fmt(r[c[0]]);
    return '<td class="' + (c[3] || '') + '">' + v + '</td>';
  }).join('') + '</tr>').join('');
  return '<table>' + head + body + '</table>';
}
async function get(path) {
  try {
    const r = await fetch(path);
    const body = await r.json();
    return r.ok ? body : { rows: [], error: path + ': ' + r.status + ' ' + ((body.error && body.error.message) || '') };
  } catch (err) {
    return { rows: [], error: 'sidecar unreachable (' + path + '): ' + err.message };
  }
}
async function refresh() {
  const w = document.getElementById('window').value;
  // A collector's many services: one at a time, or all (the API's own service filter).
  const chosen = document.getElementById('service').value;
  const svc = chosen ? '&service=' + encodeURIComponent(chosen) : '';
  const [s, e, q, c, p, rec, health, dep] = await Promise.all([
    get('/api/v1/reports/services?limit=50&window=' + w + svc),
    get('/api/v1/reports/endpoints?limit=50&window=' + w + svc),
    get('/api/v1/reports/queries?limit=50&window=' + w + svc),
    get('/api/v1/reports/cache?limit=50&window=' + w + svc),
    get('/api/v1/reports/pools?limit=50&window=' + w + svc),
    get('/api/v1/recommendations?state=active' + svc),
    get('/healthz'),
    get('/api/v1/deploys' + (chosen ? '?service=' + encodeURIComponent(chosen) : '')),
  ]);
  // The services the sidecar has data from, the chosen one kept even before its data arrives.
  const services = (health.services || []).slice().sort();
  if (chosen && services.indexOf(chosen) < 0) services.push(chosen);
  document.getElementById('service').innerHTML = '<option value="">all</option>' + services.map((s) =>
    '<option' + (s === chosen ? ' selected' : '') + ' value="' + esc(s) + '">' + esc(s) + '</option>').join('');
  const when = (ms) => new Date(ms).toLocaleString();
  const deployRows = (dep.services || []).flatMap((s) => s.versions.slice(0, 5).map((v) => ({ service: s.service,
    version: v.version, current: v.version === s.currentVersion, baseline: v.version === s.baselineVersion,
    deployedAtMs: v.deployedAtMs, lastSeenMs: v.lastSeenMs, requests: v.requests })));
  document.getElementById('deploys').innerHTML = dep.error ? '<p class="bad">' + esc(dep.error) + '</p>' : table(deployRows, [
    ['service', 'service', (v) => esc(v), 'text'],
    ['version', 'version', (v, r) => esc(v) + (r.current ? ' <span class="muted">(current)</span>' : r.baseline ? ' <span class="muted">(compared with)</span>' : ''), 'text'],
    ['deployedAtMs', 'deployed', (v) => esc(when(v))], ['lastSeenMs', 'last seen', (v) => esc(when(v))], ['requests', 'requests']],
    'no service.version seen yet (set OTEL_RESOURCE_ATTRIBUTES=service.version=…)');
  const lost = Object.entries(health.sendersLostSpans || {});
  document.getElementById('lost').textContent = lost.length ? 'Lost in the app before sending (sidecar down, refusing or behind; '
    + 'the figures below miss them): ' + lost.map(([s, n]) => s + ' ' + fmt(n) + ' spans').join(', ') + '.' : '';
  const twice = Object.entries(health.doubleTraced || {});
  document.getElementById('twice').textContent = twice.length ? 'Traced twice, by the spanstat preload and the app’s own '
    + 'OpenTelemetry SDK (its copies are set aside; drop one of the two): ' + twice.map(([s, d]) => s + ' (' + d.processes
    + ' processes)').join(', ') + '.' : '';
  const share = (v) => v > 0 ? pct(v) : '–';
  document.getElementById('services').innerHTML = section(s, [
    ['service', 'service', (v, r) => esc(v) + (r.kind === 'jobs' ? ' <span class="muted">(jobs)</span>' : ''), 'text'],
    ['requests', 'requests'], ['errorRate', 'errors', (v) => '<span class="' + (v >= 0.02 ? 'bad' : '') + '">' + pct(v) + '</span>'],
    ['p50Ms', 'p50 ms'], ['p95Ms', 'p95 ms'], ['p99Ms', 'p99 ms'], ['dbShare', 'database', share], ['cacheShare', 'cache', share],
    ['poolWaitShare', 'pool wait', share], ['otherShare', 'other', share], ['queriesPerRequest', 'queries/req']]);
  document.getElementById('endpoints').innerHTML = section(e, [
    ['route', 'endpoint', (v, r) => esc(r.service + ' ' + r.method + ' ' + v), 'text'], ['requests', 'requests'],
    ['errorRate', 'errors', (v) => '<span class="' + (v >= 0.02 ? 'bad' : '') + '">' + pct(v) + '</span>'],
    ['p50Ms', 'p50 ms'], ['p95Ms', 'p95 ms'], ['p99Ms', 'p99 ms'], ['queriesPerRequest', 'queries/req'],
    ['dbMsPerRequest', 'db ms/req'], ['cacheMsPerRequest', 'cache ms/req']]);
  document.getElementById('queries').innerHTML = section(q, [
    ['service', 'service', (v) => esc(v), 'text'], ['statement', 'statement', (v) => esc(v), 'stmt'], ['calls', 'calls'], ['totalMs', 'total ms', (v) => fmt(v, 0)],
    ['meanMs', 'mean ms'], ['p95Ms', 'p95 ms'], ['p99Ms', 'p99 ms'], ['shareOfDbTime', 'db time', pct]]);
  document.getElementById('cache').innerHTML = section(c, [
    ['namespace', 'namespace', (v, r) => esc(r.service + ' ' + v), 'text'], ['reads', 'reads'], ['writes', 'writes'],
    ['hitRate', 'hit rate', (v) => '<span class="' + (v !== null && v < 0.8 ? 'bad' : '') + '">' + pct(v) + '</span>'],
    ['p50Ms', 'p50 ms', (v) => fmt(v, 2)], ['p99Ms', 'p99 ms', (v) => fmt(v, 2)],
    ['noExpiryWritesPerMin', 'no-TTL writes/min', (v, r) => '<span class="' + (v > 0 && r.expirySets === 0 && r.namespace.indexOf('*') >= 0 ? 'bad' : '') + '">' + fmt(v, 2) + '</span>']]);
  document.getElementById('pools').innerHTML = section(p, [
    ['system', 'pool', (v, r) => esc(r.service + ' ' + v + (r.pool ? ' ' + r.pool : '')), 'text'], ['connects', 'checkouts'],
    ['p95WaitMs', 'wait p95 ms', (v) => fmt(v, 2)], ['maxInUse', 'max in use'], ['poolMax', 'pool size'], ['maxWaiting', 'max waiting'],
    ['maxInUseRatio', 'in use', (v) => '<span class="' + (v !== null && v >= 0.8 ? 'bad' : '') + '">' + pct(v) + '</span>']],
    'no checkout waited for a connection');
  const recs = rec.recommendations || [];
  const status = rec.advisor || {};
  const none = rec.error ? '<p class="bad">' + esc(rec.error) + '</p>'
    : status.lastEvaluatedMs == null ? '<p class="muted">the advisor has not evaluated yet (every ' + fmt(status.intervalSeconds) + ' s)</p>'
    : '<p class="muted">none: nothing over its threshold in the ' + esc(status.window) + ' window</p>';
  // What keeps the advice from being complete, as \`spanstat advise\` says on stderr.
  // Several databases (advisor.databases): each sampler's notes, named by its database.
  const sampled = (status.databases || []).filter((d) => d.lockSampling);
  const samplers = sampled.length > 1 ? sampled.map((d) => [d.lockSampling, ' (' + d.database + ')'])
    : [[status.lockSampling, '']];
  const notes = [status.lastError ? "the advisor's last evaluation failed: " + status.lastError : '']
    .concat(...samplers.map(([sampling, where]) => [
      sampling && sampling.readAllStats === false ? 'lock sampling' + where + ': ' + ${JSON.stringify(PRIVILEGE_HINT)} : '',
      sampling && sampling.lastError ? 'lock sampling' + where + ' failed: ' + sampling.lastError : '']))
    .filter(Boolean).map((n) => '<p class="bad">note: ' + esc(n) + '</p>').join('');
  document.getElementById('recommendations').innerHTML = notes + (recs.length ? table(recs, [
    ['severity', 'severity', (v) => esc(v), 'text'], ['service', 'service', (v) => esc(v), 'text'], ['title', 'finding', (v) => esc(v), 'stmt'],
    ['action', 'action', (v) => esc(v), 'stmt']]) : none);
  document.getElementById('meta').textContent = 'updated ' + new Date().toLocaleTimeString();
}
document.getElementById('window').onchange = refresh;
document.getElementById('service').onchange = refresh;
refresh(); setInterval(refresh, 5000);
</script></body></html>`;
