// Applications: search by person, item, department and status; one
// application's history, and its flow drawn from its BPMN (bpmn-js) with the
// active and completed steps marked (items no flow drives have none); the
// applicant's rating; and its trace.
import { api, ApiError } from '../api.js';
import { h, message, section, table } from '../dom.js';
import { t } from '../i18n.js';
import { loadNames, named } from '../names.js';

const STATUSES = ['submitted', 'in_review', 'needs_supplement', 'approved', 'rejected', 'completed', 'cancelled'];

function field(id, label, input) {
  return h('div', { className: 'field' }, h('label', { for: id }, label), input);
}

export async function applications(root, { user, params, navigate }) {
  const admin = user.roles.includes('hub:admin');
  const departments = user.departments;
  const query = new URLSearchParams(params.query || '');
  const person = h('input', { id: 'q-person', name: 'applicant', value: query.get('applicant') || '', autocomplete: 'off' });
  const item = h('input', { id: 'q-item', name: 'item', value: query.get('item') || '', autocomplete: 'off' });
  const department = admin
    ? h('input', { id: 'q-department', name: 'department', value: query.get('department') || '', placeholder: t('apps.departmentAll') })
    : h('select', { id: 'q-department', name: 'department' },
      departments.map((d) => h('option', { value: d, selected: query.get('department') === d }, d)));
  const status = h('select', { id: 'q-status', name: 'status' },
    h('option', { value: '' }, t('apps.statusAny')),
    STATUSES.map((s) => h('option', { value: s, selected: query.get('status') === s }, t(`status.${s}`))));
  const results = h('div', { id: 'results', 'aria-live': 'polite' });
  const form = h('form', {
    className: 'search', role: 'search',
    onSubmit: (event) => {
      event.preventDefault();
      const q = new URLSearchParams();
      for (const [k, el] of [['applicant', person], ['item', item], ['department', department], ['status', status]])
        if (el.value.trim()) q.set(k, el.value.trim());
      navigate(`#/applications?${q}`);
    },
  },
  field('q-person', t('apps.person'), person), field('q-item', t('apps.item'), item),
  field('q-department', t('apps.department'), department), field('q-status', t('apps.status'), status),
  h('button', { type: 'submit' }, t('apps.find')));
  root.append(section(t('apps.search'), form, results));
  if (!params.query) return;

  const q = new URLSearchParams();
  q.set('department', query.get('department') || (admin ? '*' : departments[0] || ''));
  for (const k of ['applicant', 'item', 'status']) if (query.get(k)) q.set(k, query.get(k));
  q.set('pageSize', '50');
  const [page, names] = await Promise.all([api(`/api/v1/applications?${q}`), loadNames()]);
  results.append(h('p', { role: 'status' }, t('apps.found', { total: page.total })),
    table(t('apps.search'), [t('apps.id'), t('apps.person'), t('apps.item'), t('apps.department'), t('apps.status'),
      t('apps.submitted'), t('apps.due')],
    page.items.map((a) => [
      h('a', { href: `#/applications/${encodeURIComponent(a.id)}`, 'aria-label': t('apps.open', { id: a.id }) }, a.id),
      a.applicant, named(names.items, a.item_id), named(names.departments, a.department), t(`status.${a.status}`), a.submitted_at,
      a.overdue ? h('strong', { className: 'alert' }, `${a.due_date} ${t('apps.overdue')}`) : a.due_date])));
}

async function drawFlow(box, id) {
  let response;
  try {
    response = await api(`/api/v1/applications/${encodeURIComponent(id)}/flow`, { raw: true });
  } catch (e) {
    // 404: no flow drives this item (or the hub runs no flows); nothing to draw.
    box.append(message(e instanceof ApiError && e.status === 404 ? t('apps.flowNone') : t('apps.flowError', { detail: e.message })));
    return;
  }
  try {
    // Either the BPMN XML itself, or JSON {xml|bpmn, active: [ids], completed: [ids]}.
    const type = response.headers.get('Content-Type') || '';
    let xml;
    let active = [];
    let completed = [];
    if (type.includes('json')) {
      const data = await response.json();
      xml = data.xml || data.bpmn || data.bpmnXml;
      active = data.active || data.activeElements || [];
      completed = data.completed || data.completedElements || [];
    } else {
      xml = await response.text();
    }
    const { default: NavigatedViewer } = await import('bpmn-js/lib/NavigatedViewer');
    // The viewer fits the diagram to its container: wait until the page is shown.
    for (let i = 0; i < 300 && !box.isConnected; i++) await new Promise((r) => requestAnimationFrame(r));
    const canvasEl = h('div', { className: 'diagram', id: 'flow-diagram', role: 'img', 'aria-label': t('apps.flow') });
    box.append(canvasEl);
    const viewer = new NavigatedViewer({ container: canvasEl });
    await viewer.importXML(xml);
    const canvas = viewer.get('canvas');
    canvas.zoom('fit-viewport');
    for (const el of completed) canvas.addMarker(el, 'completed');
    for (const el of active) canvas.addMarker(el, 'active');
  } catch (e) {
    box.append(message(t('apps.flowError', { detail: e.message }), 'error'));
  }
}

// Every hop of the application under its trace id (hub:admin only: a clerk's
// token gets 403, and the section says so).
async function drawTrace(box, id) {
  let trace;
  try {
    trace = await api(`/admin/applications/${encodeURIComponent(id)}/trace`);
  } catch (e) {
    box.append(message(e instanceof ApiError && e.status === 404 ? t('apps.traceNone') : t('apps.traceError', { detail: e.message })));
    return;
  }
  box.append(h('p', { id: 'trace-id' }, t('apps.traceId', { id: trace.trace_id })),
    table(t('apps.trace'), [t('apps.at'), t('apps.traceKind'), t('apps.traceName'), t('apps.traceOutcome'), t('apps.traceMs'), t('apps.traceDetail')],
      trace.hops.map((x) => [x.at, t(`trace.${x.kind}`), x.name, x.outcome, x.duration_ms === null ? '—' : String(x.duration_ms), x.detail])));
}

// The applicant's rating with its comment, once they rated the closed application.
async function drawRating(box, id) {
  let rating;
  try {
    rating = await api(`/api/v1/applications/${encodeURIComponent(id)}/rating`);
  } catch (e) {
    box.append(message(e instanceof ApiError && e.status === 404 ? t('apps.ratingNone') : t('apps.ratingError', { detail: e.message })));
    return;
  }
  box.append(h('dl', { className: 'facts', id: 'rating' },
    [[t('apps.ratingScore'), `${rating.score} / 5`], [t('apps.ratingComment'), rating.comment || '—'], [t('apps.at'), rating.rated_at]]
      .flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])));
}

export async function application(root, { params }) {
  const [a, names] = await Promise.all([api(`/api/v1/applications/${encodeURIComponent(params.id)}`), loadNames()]);
  const facts = h('dl', { className: 'facts' },
    [[t('apps.id'), a.id], [t('apps.person'), a.applicant], [t('apps.item'), named(names.items, a.item_id)], [t('apps.department'), named(names.departments, a.department)],
      [t('apps.status'), t(`status.${a.status}`)], [t('apps.submitted'), a.submitted_at],
      [t('apps.due'), a.overdue ? `${a.due_date} ${t('apps.overdue')}` : a.due_date]]
      .flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
  const flowBox = section(t('apps.flow'));
  const traceBox = section(t('apps.trace'));
  const ratingBox = section(t('apps.rating'));
  root.append(
    h('p', {}, h('a', { href: '#/applications', onClick: (e) => { e.preventDefault(); history.back(); } }, t('apps.back'))),
    section(a.id, facts),
    section(t('apps.history'), table(t('apps.history'),
      [t('apps.at'), t('apps.from'), t('apps.to'), t('apps.actor'), t('apps.reason')],
      (a.transitions || []).map((x) => [x.at, x.from ? t(`status.${x.from}`) : '—', t(`status.${x.to}`), x.actor, x.reason || '']))),
    ratingBox, flowBox, traceBox);
  if (a.result && a.result !== '{}' && a.result !== '') root.append(section(t('apps.result'), h('pre', {}, typeof a.result === 'string' ? a.result : JSON.stringify(a.result, null, 2))));
  drawFlow(flowBox, a.id);  // drawn once the page is shown; it reports its own failure
  drawTrace(traceBox, a.id);
  drawRating(ratingBox, a.id);
}
