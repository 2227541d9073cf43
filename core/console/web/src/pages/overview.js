// Overview: plugin health and circuit, calls and errors over time, the
// identity sync, the relay's lag per consumer and its dead letters (replay),
// flow incidents. hub:admin only (the routes it reads are).
import { api, ApiError } from '../api.js';
import { chart } from '../charts.js';
import { h, message, section, table } from '../dom.js';
import { t } from '../i18n.js';

// red: down or the circuit open; amber: degraded or half open; green: up.
export function healthColour(system) {
  if (system.status === 'down' || system.circuit === 'open') return 'red';
  if (system.status === 'degraded' || system.circuit === 'half_open') return 'amber';
  return 'green';
}

function badge(system) {
  const colour = healthColour(system);
  return h('span', { className: `badge ${colour}`, 'data-health': colour, 'data-plugin': system.name },
    h('span', { 'aria-hidden': 'true' }, '●'), ' ', t(`health.${system.status}`) || system.status);
}

async function plugins() {
  const { systems } = await api('/api/v1/systems');
  return section(t('overview.plugins'),
    systems.length === 0 ? message(t('common.none')) :
      table(t('overview.plugins'),
        [t('overview.plugin'), t('overview.health'), t('overview.circuit'), t('overview.calls'), t('overview.failures'),
          t('overview.errorRate'), t('overview.detail')],
        systems.map((s) => [s.name, badge(s), s.circuit, s.calls, s.failures,
          `${Math.round((s.recent_error_rate || 0) * 100)}%`, s.health_detail || ''])));
}

async function activity() {
  const el = h('div', { className: 'chart', role: 'img', 'aria-label': t('overview.activity'), id: 'activity-chart' });
  const box = section(t('overview.activity'), el);
  try {
    const data = await api('/admin/plugins/activity');
    const times = [...new Set(data.plugins.flatMap((p) => p.points.map((x) => x.at)))].sort((a, b) => a - b);
    const label = (at) => new Date(at * 1000).toLocaleTimeString();
    const series = data.plugins.flatMap((p) => {
      const byTime = new Map(p.points.map((x) => [x.at, x]));
      return [
        { name: `${p.name} ${t('overview.activityCalls')}`, type: 'line', data: times.map((x) => byTime.get(x)?.calls ?? 0) },
        { name: `${p.name} ${t('overview.activityFailures')}`, type: 'line', lineStyle: { type: 'dashed' },
          data: times.map((x) => byTime.get(x)?.failures ?? 0) },
      ];
    });
    chart(el, {
      tooltip: { trigger: 'axis' }, legend: { top: 0 }, grid: { top: 40, left: 50, right: 20, bottom: 30 },
      xAxis: { type: 'category', data: times.map(label) }, yAxis: { type: 'value', minInterval: 1 }, series,
    });
  } catch (e) {
    box.append(message(t('common.error', { detail: e.message }), 'error'));
  }
  return box;
}

async function sync() {
  try {
    const s = await api('/admin/identity/sync');
    return section(t('overview.sync'), table(t('overview.sync'),
      [t('overview.syncLast'), t('overview.syncStatus'), t('overview.syncCounts'), t('overview.syncAlert')],
      [[s.lastRunAt || '—', `${s.lastMethod || ''} ${s.lastStatus || ''} ${s.lastError || ''}`.trim(),
        `${s.created} / ${s.updated} / ${s.departed}`,
        s.alert ? h('strong', { className: 'alert' }, s.alert) : t('common.none')]]),
    // The last runs (identity_sync_runs), newest first, from whichever node ran them.
    h('h3', {}, t('overview.syncRuns')),
    (s.recentRuns || []).length === 0 ? message(t('common.none')) :
      h('div', { id: 'sync-runs' }, table(t('overview.syncRuns'),
        [t('overview.syncStarted'), t('overview.syncNode'), t('overview.syncWhat'), t('overview.syncStatus'), t('overview.syncSeconds')],
        s.recentRuns.map((r) => [new Date(r.startedMs).toISOString(), r.node, r.method ? `${r.what} (${r.method})` : r.what,
          r.status === 'ok' ? r.status : h('strong', { className: r.status === 'running' ? '' : 'alert' },
            r.error ? `${r.status}: ${r.error}` : r.status),
          r.finishedMs ? ((r.finishedMs - r.startedMs) / 1000).toFixed(1) : '—']))));
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return section(t('overview.sync'), message(t('overview.syncNone')));
    throw e;
  }
}

let lastReplay = '';

async function relay(refresh) {
  let consumers;
  try {
    consumers = await api('/admin/events/consumers');
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return section(t('overview.relay'), message(t('common.none')));
    throw e;
  }
  const { items } = await api('/admin/events/dead-letters');
  // Kept across refreshes, so the answer stays readable after the list reloads.
  const status = h('p', { role: 'status', className: 'message', id: 'replay-status' }, lastReplay);
  const replay = (d) => h('button', {
    type: 'button', 'aria-label': t('overview.replayLabel', { id: d.id, consumer: d.consumer }),
    onClick: async (event) => {
      event.currentTarget.disabled = true;
      try {
        const r = await api(`/admin/events/dead-letters/replay?consumer=${encodeURIComponent(d.consumer)}&id=${encodeURIComponent(d.id)}`,
          { method: 'POST' });
        lastReplay = t('overview.replayed', { count: r.replayed });
        status.textContent = lastReplay;
        setTimeout(refresh, 300);
      } catch (e) {
        status.textContent = t('common.error', { detail: e.message });
      }
    },
  }, t('overview.replay'));
  return section(t('overview.relay'),
    table(t('overview.relay'), [t('overview.consumer'), t('overview.lag'), t('overview.oldest'), t('overview.deadLetters')],
      consumers.consumers.map((c) => [c.name, c.depth, Math.round(c.oldestUndeliveredSeconds), c.deadLettered])),
    h('h3', {}, `${t('overview.deadLetters')} (${consumers.deadLetters})`),
    items.length === 0 ? message(t('common.none')) :
      table(t('overview.deadLetters'),
        [t('overview.consumer'), t('overview.event'), t('overview.type'), t('overview.attempts'), t('overview.lastError'), ''],
        items.map((d) => [d.consumer, d.id, d.type, d.attempts, d.lastError, replay(d)])),
    status);
}

// Open flow incidents (a service task that failed after its retries, a step
// limit), each with a retry from the page.
let lastRetry = '';

async function incidents(refresh) {
  let data;
  try {
    data = await api('/admin/flows/incidents');
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return section(t('overview.incidents'), message(t('overview.incidentsSoon')));
    throw e;
  }
  const list = data.items || [];
  // Kept across refreshes, as the replay's answer.
  const status = h('p', { role: 'status', className: 'message', id: 'incident-status' }, lastRetry);
  const retry = (x) => h('button', {
    type: 'button', 'aria-label': t('overview.retryIncident', { id: x.id }),
    onClick: async (event) => {
      event.currentTarget.disabled = true;
      try {
        await api(`/admin/flows/incidents/${encodeURIComponent(x.id)}/retry`, { method: 'POST' });
        lastRetry = t('overview.retried', { id: x.id });
        status.textContent = lastRetry;
        setTimeout(refresh, 300);
      } catch (e) {
        status.textContent = t('common.error', { detail: e.message });
      }
    },
  }, t('overview.retry'));
  return section(t('overview.incidents'), list.length === 0 ? message(t('common.none')) :
    table(t('overview.incidents'), [t('overview.incident'), t('overview.element'), t('overview.message'), t('overview.since'), ''],
      list.map((x) => [x.id, x.element_id, x.message, new Date(x.created_at).toISOString(), retry(x)])),
  status);
}

export async function overview(root, { refresh }) {
  const parts = await Promise.all([plugins(), activity(), sync(), relay(refresh), incidents(refresh)].map((p) =>
    p.catch((e) => message(t('common.error', { detail: e.message }), 'error'))));
  root.append(...parts);
}
