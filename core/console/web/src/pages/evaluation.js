// Evaluation: the hall's figures per item or department and per day, week or
// month, as charts and a table, with a CSV export.
import { api } from '../api.js';
import { chart } from '../charts.js';
import { h, message, section, table } from '../dom.js';
import { t } from '../i18n.js';
import { loadNames, named } from '../names.js';

function choice(id, label, name, options, selected) {
  return h('div', { className: 'field' }, h('label', { for: id }, label),
    h('select', { id, name }, options.map(([value, text]) => h('option', { value, selected: value === selected }, text))));
}

function percent(x) {
  return `${Math.round(x * 1000) / 10}%`;
}

export async function evaluation(root, { params, navigate }) {
  const q = new URLSearchParams(params.query || '');
  const by = q.get('by') || 'department';
  const period = q.get('period') || 'month';
  // Empty dates: the hub's default range, the last 365 days to today in the
  // hall's time zone (which need not be the browser's).
  const to = q.get('to') || '';
  const from = q.get('from') || '';
  const form = h('form', {
    className: 'search',
    onSubmit: (event) => {
      event.preventDefault();
      const data = new URLSearchParams();
      for (const [k, v] of new FormData(event.currentTarget)) if (v) data.set(k, v);
      navigate(`#/evaluation?${data}`);
    },
  },
  choice('e-by', t('eval.by'), 'by', [['item', t('eval.byItem')], ['department', t('eval.byDepartment')]], by),
  choice('e-period', t('eval.period'), 'period', [['day', t('eval.day')], ['week', t('eval.week')], ['month', t('eval.month')]], period),
  h('div', { className: 'field' }, h('label', { for: 'e-from' }, t('eval.from')), h('input', { id: 'e-from', name: 'from', type: 'date', value: from })),
  h('div', { className: 'field' }, h('label', { for: 'e-to' }, t('eval.to')), h('input', { id: 'e-to', name: 'to', type: 'date', value: to })),
  h('button', { type: 'submit' }, t('eval.show')));
  const query = new URLSearchParams({ by, period });
  if (from) query.set('from', from);
  if (to) query.set('to', to);
  const exportButton = h('button', {
    type: 'button', id: 'csv-export',
    onClick: async () => {
      // The export needs the token too: fetched, then handed to the browser as a file.
      const response = await api(`/admin/evaluation?${query}&format=csv`, { raw: true });
      const url = URL.createObjectURL(await response.blob());
      const link = h('a', { href: url, download: `evaluation-${by}-${period}-${data.from}-${data.to}.csv` });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    },
  }, t('eval.csv'));
  root.append(section(t('eval.title'), form, exportButton));

  const [data, names] = await Promise.all([api(`/admin/evaluation?${query}`), loadNames()]);
  const label = (key) => named(by === 'item' ? names.items : names.departments, key);
  form.querySelector('#e-from').value = data.from;
  form.querySelector('#e-to').value = data.to;
  if (data.rows.length === 0) {
    root.append(message(t('eval.empty')));
    return;
  }
  const periods = [...new Set(data.rows.map((r) => r.period))].sort();
  const keys = [...new Set(data.rows.map((r) => r.key))].sort();
  const cell = (p, k) => data.rows.find((r) => r.period === p && r.key === k);
  // All rows of a period together: medians weighted by decisions, the largest p90.
  const totals = periods.map((p) => {
    const rows = data.rows.filter((r) => r.period === p);
    const closed = rows.reduce((s, r) => s + r.closed, 0);
    return {
      median: closed ? rows.reduce((s, r) => s + (r.medianDays ?? 0) * r.closed, 0) / closed : null,
      p90: rows.reduce((m, r) => Math.max(m, r.p90Days ?? 0), 0),
      ratings: rows.reduce((s, r) => s + r.ratings, 0),
    };
  });
  const box = (id, title) => h('div', { className: 'chart', id, role: 'img', 'aria-label': title });
  const volumeEl = box('chart-volume', t('eval.chartVolume'));
  const timeEl = box('chart-time', t('eval.chartTime'));
  const overdueEl = box('chart-overdue', t(by === 'item' ? 'eval.chartOverdueItem' : 'eval.chartOverdueDepartment'));
  const satisfactionEl = box('chart-satisfaction', t('eval.chartSatisfaction'));
  root.append(section(t('eval.chartVolume'), volumeEl), section(overdueEl.getAttribute('aria-label'), overdueEl),
    section(t('eval.chartTime'), timeEl), section(t('eval.chartSatisfaction'), satisfactionEl));
  const common = { tooltip: { trigger: 'axis', className: 'chart-tooltip' }, legend: { top: 0, type: 'scroll' }, xAxis: { type: 'category', data: periods } };
  chart(volumeEl, {
    ...common, grid: { top: 40, left: 50, right: 20, bottom: 30 }, yAxis: { type: 'value', minInterval: 1 },
    series: keys.map((k) => ({ name: label(k), type: 'bar', stack: 'volume', data: periods.map((p) => cell(p, k)?.volume ?? 0) })),
  });
  // One line per department (or item): the figure the hall is judged by, not only the total.
  chart(overdueEl, {
    ...common, grid: { top: 40, left: 60, right: 20, bottom: 30 },
    tooltip: { trigger: 'axis', className: 'chart-tooltip', valueFormatter: (x) => (x === null || x === undefined ? '—' : percent(x)) },
    yAxis: { type: 'value', min: 0, max: 1, axisLabel: { formatter: (x) => percent(x) } },
    series: keys.map((k) => ({
      name: label(k), type: periods.length > 1 ? 'line' : 'bar', connectNulls: false,
      // The figure on the chart itself: a 0% bar has no height to see.
      label: { show: true, position: 'top', formatter: ({ value }) => (value === null || value === undefined ? '' : percent(value)) },
      data: periods.map((p) => cell(p, k)?.overdueRate ?? null),
    })),
  });
  chart(timeEl, {
    ...common, grid: { top: 60, left: 50, right: 20, bottom: 30 }, yAxis: { type: 'value', name: t('eval.median') },
    series: [
      { name: t('eval.median'), type: 'bar', data: totals.map((x) => x.median) },
      { name: t('eval.p90'), type: 'bar', data: totals.map((x) => x.p90) },
    ],
  });
  // Mean rating per department (or item) on 1-5; the number of ratings on the right axis.
  chart(satisfactionEl, {
    ...common, grid: { top: 60, left: 50, right: 50, bottom: 30 },
    yAxis: [{ type: 'value', name: t('eval.satisfaction'), min: 0, max: 5, interval: 1 },
      { type: 'value', name: t('eval.ratings'), minInterval: 1 }],
    series: [
      ...keys.map((k) => ({
        name: label(k), type: 'bar',
        data: periods.map((p) => {
          const r = cell(p, k);
          return r && r.meanSatisfaction !== null ? Math.round(r.meanSatisfaction * 100) / 100 : null;
        }),
      })),
      { name: t('eval.ratings'), type: 'line', yAxisIndex: 1, data: totals.map((x) => x.ratings) },
    ],
  });
  root.append(section(t('eval.title'), table(t('eval.title'),
    [t('eval.periodCol'), t('eval.key'), t('eval.volume'), t('eval.closed'), t('eval.median'), t('eval.p90'),
      t('eval.overdueRate'), t('eval.satisfaction'), t('eval.ratings')],
    data.rows.map((r) => [r.period, label(r.key), r.volume, r.closed, r.medianDays ?? '—', r.p90Days ?? '—', percent(r.overdueRate),
      r.meanSatisfaction === null ? '—' : r.meanSatisfaction.toFixed(2), r.ratings]))));
}
