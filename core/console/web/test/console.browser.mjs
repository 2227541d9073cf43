// The console in a real browser (Debian's chromium through playwright-core)
// against a real hubd with seeded data and the simulated student affairs
// system: log in, watch the plugin turn red when its vendor goes down, replay
// a dead letter, find an application and its history, read this month's
// overdue rate per department and the satisfaction from the charts, their table
// and the CSV export, switch the language and use the keyboard. Screenshots go
// to --artefacts. Exit code 0 when every step passed.
//
// The overdue figures are known ones: besides what the test submits today
// through the API (none of it late), hub-console-seed (--seed) writes
// applications submitted earlier this month, some decided or still open after
// their due date, some decided in time, in two departments.
//
//   node test/console.browser.mjs --hubd HUBD --sim SIM --consumer PORTAL_CONSUMER --seed SEED --plugins DIR
//        --catalog DIR --calendar FILE --flows DIR --console DIR --artefacts DIR [--chromium /usr/bin/chromium]
import { execFileSync, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, a, i, all) =>
  (a.startsWith('--') ? [...pairs, [a.slice(2), all[i + 1]]] : pairs), []));
for (const k of ['hubd', 'sim', 'consumer', 'seed', 'plugins', 'catalog', 'calendar', 'flows', 'console', 'artefacts'])
  if (!args[k]) throw new Error(`--${k} is required`);
const chromiumPath = args.chromium || '/usr/bin/chromium';
if (!existsSync(chromiumPath)) throw new Error(`no browser at ${chromiumPath}: install Debian's chromium (scripts/setup.sh)`);
if (!existsSync(join(args.console, 'index.html'))) throw new Error(`the console is not built in ${args.console}`);

const SECRET = 'console-browser-test-secret-0123456789abc';
// A flow whose service task calls a system that is not there: an incident at once.
const BROKEN_REPAIR_BPMN = `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" id="d" targetNamespace="urn:test">
  <bpmn:process id="dorm-repair" isExecutable="true">
    <bpmn:startEvent id="Start"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:serviceTask id="Task_Dispatch" name="派单"><bpmn:extensionElements><zeebe:taskDefinition type="logistics.dispatch" retries="1" /></bpmn:extensionElements><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing></bpmn:serviceTask>
    <bpmn:endEvent id="End"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Task_Dispatch" />
    <bpmn:sequenceFlow id="F2" sourceRef="Task_Dispatch" targetRef="End" />
  </bpmn:process>
</bpmn:definitions>`;
const dir = mkdtempSync(join(tmpdir(), 'console-browser-'));
rmSync(args.artefacts, { recursive: true, force: true });  // this run's screenshots only
mkdirSync(args.artefacts, { recursive: true });
const children = [];
let failures = 0;

function b64url(s) {
  return Buffer.from(s).toString('base64url');
}
function token(sub) {
  const now = Math.floor(Date.now() / 1000);
  const input = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64url(JSON.stringify({ sub, aud: 'campushub', iat: now, exp: now + 900 }))}`;
  return `${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`;
}
async function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}
async function waitFor(what, condition, ms = 15000) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
function start(exe, argv, name) {
  const child = spawn(exe, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.output = '';
  child.stdout.on('data', (d) => { child.output += d; });
  child.stderr.on('data', (d) => { child.output += d; });
  child.name = name;
  children.push(child);
  return child;
}
async function portOf(file) {
  return waitFor(file, () => existsSync(file) && Number(readFileSync(file, 'utf8').trim()));
}

let base;
async function call(method, path, subject, body) {
  const r = await fetch(base + path, {
    method,
    headers: { Authorization: `Bearer ${token(subject)}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

async function step(name, fn) {
  const started = Date.now();
  try {
    await fn();
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    failures++;
    console.log(`FAIL ${name}: ${e.stack || e}`);
    if (onFailure) await onFailure(`failed-${failures}`).catch(() => {});
  }
}
let onFailure = null;

// Every application the test made, {month, item, department, late}: what the
// evaluation must show, worked out here rather than read back from the hub.
const made = [];
const HALL_UTC_OFFSET = 8 * 3600;  // calendar.utcOffsetSeconds in hub.xml, given to the seed too
function expectedFigures(by, month) {
  const out = new Map();
  for (const a of made.filter((x) => x.month === month)) {
    const key = by === 'item' ? a.item : a.department;
    const e = out.get(key) || { counted: 0, overdue: 0 };
    e.counted++;
    if (a.late) e.overdue++;
    out.set(key, e);
  }
  return out;
}
function percent(e) {  // as the page writes a rate
  return `${Math.round((e.overdue / e.counted) * 1000) / 10}%`;
}
// The CSV export's rows as objects, by its header.
function csvRows(text) {
  const [head, ...lines] = text.replace(/^\uFEFF/, '').split('\r\n').filter((l) => l);
  const names = head.split(',');
  return lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [names[i], v])));
}
// The evaluation table's rows, {period, key, volume, overdueRate}, found by
// its caption and column headers in the page's language.
async function figuresTable(p, { caption, period, key, volume, overdue }) {
  const table = p.locator('table', { has: p.locator('caption', { hasText: caption }) });
  await table.locator('tbody tr').first().waitFor();
  const headers = await table.locator('thead th').allInnerTexts();
  const rows = await table.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
  // "学生工作处 (student-affairs)", or the bare id where the caller's catalogue has no name for it.
  const id = (text) => /\(([^()]+)\)$/.exec(text)?.[1] ?? text;
  return rows.map((r) => ({ period: r[headers.indexOf(period)], key: id(r[headers.indexOf(key)]),
    volume: Number(r[headers.indexOf(volume)]), overdueRate: r[headers.indexOf(overdue)] }));
}
function checkTable(rows, month, expected) {
  for (const [key, e] of expected) {
    const row = rows.find((r) => r.period === month && r.key === key);
    if (!row || row.overdueRate !== percent(e) || row.volume !== e.counted)
      throw new Error(`the table shows ${key} in ${month} as ${JSON.stringify(row)}, not ${e.counted} with ${percent(e)} overdue`);
  }
}
function checkCsv(text, by, month) {
  const rows = csvRows(text);
  for (const [key, e] of expectedFigures(by, month)) {
    const row = rows.find((r) => r.period === month && r.key === key);
    if (!row) throw new Error(`the CSV has no row for ${key} in ${month}: ${text}`);
    if (Number(row.volume) !== e.counted || Number(row.overdue) !== e.overdue ||
        Math.abs(Number(row.overdue_rate) - e.overdue / e.counted) > 0.0005)
      throw new Error(`the CSV's ${key} in ${month} is ${JSON.stringify(row)}, not ${e.overdue} of ${e.counted} overdue`);
  }
}

try {
  // The vendor system, and hubd with its plugin, an event consumer (the
  // reference portal consumer, stopped with SIGSTOP while the seed's events
  // reach it: connected but silent, so they become dead letters at once) and
  // short health and breaker times.
  const sim = start(args.sim, ['--port', '0', '--port-file', join(dir, 'sim.port')], 'sim');
  const simPort = await portOf(join(dir, 'sim.port'));
  mkdirSync(join(dir, 'plugins'));
  // The shipped graduate leave flow (drawn in Camunda Modeler), deployed by hubd.
  mkdirSync(join(dir, 'flows'));
  cpSync(join(args.flows, 'graduate-leave.bpmn'), join(dir, 'flows/graduate-leave.bpmn'));
  writeFileSync(join(dir, 'flows/dorm-repair.bpmn'), BROKEN_REPAIR_BPMN);
  cpSync(join(args.plugins, 'student_affairs'), join(dir, 'plugins/student_affairs'), { recursive: true });
  const consumerPort = await freePort();
  const consumer = start(args.consumer, ['--listen', `tcp://127.0.0.1:${consumerPort}`, '--plaintext'], 'consumer');
  await waitFor('the consumer', () => consumer.output.includes('listening'));
  writeFileSync(join(dir, 'hub.xml'), `<hub>
  <http><port>0</port><portFile>${dir}/hubd.port</portFile></http>
  <store><path>${dir}/var/hub.db</path></store>
  <catalog><dir>${args.catalog}</dir></catalog>
  <calendar><file>${args.calendar}</file><utcOffsetSeconds>${HALL_UTC_OFFSET}</utcOffsetSeconds></calendar>
  <flows><dir>${dir}/flows</dir></flows>
  <console><dir>${args.console}</dir><activitySeconds>1</activitySeconds></console>
  <plugins><dir>${dir}/plugins</dir><healthIntervalMs>300</healthIntervalMs>
    <plugin name="student_affairs"><failureThreshold>2</failureThreshold><openMs>60000</openMs><timeoutMs>1000</timeoutMs>
      <config><base_url>http://127.0.0.1:${simPort}</base_url></config></plugin></plugins>
  <auth><jwt><hs256Secret>${SECRET}</hs256Secret><audience>campushub</audience></jwt></auth>
  <events><curve><enabled>false</enabled></curve><consumers>
    <consumer><name>portal</name><endpoint>tcp://127.0.0.1:${consumerPort}</endpoint><maxAttempts>1</maxAttempts>
      <ackTimeoutMs>200</ackTimeoutMs><backoffInitialMs>50</backoffInitialMs><backoffMaxMs>100</backoffMaxMs></consumer>
  </consumers></events>
  <identity><static>
    <person id="2023010001" name="张三" department="student-affairs" audience="student"/>
    <person id="2023010002" name="李四" department="student-affairs" audience="student"/>
    <person id="clerk.xsc" name="王老师" department="student-affairs" audience="staff" roles="dept:student-affairs:clerk"/>
    <person id="clerk.jwc" name="赵老师" department="academic-affairs" audience="staff" roles="dept:academic-affairs:clerk"/>
    <person id="admin" name="管理员" department="it-office" audience="staff" roles="hub:admin"/>
  </static></identity>
</hub>`);
  // Applications of earlier this month, written before hubd opens the store.
  const pastLeave = { 'leave-type': 'personal', from: '2026-12-01', to: '2026-12-01', reason: '家中有事', phone: '13800000001' };
  const plan = [
    // Student affairs: completed after its due date, still open past it, completed the day it came.
    { item: 'student-leave', department: 'student-affairs', form: pastLeave, path: ['approved', 'completed'], actor: 'clerk.xsc', late: true },
    { item: 'student-leave', department: 'student-affairs', form: pastLeave, late: true },
    { item: 'student-leave', department: 'student-affairs', form: pastLeave, path: ['approved', 'completed'], actor: 'clerk.xsc', late: false },
    // Academic affairs (time limit 0, due the day it came): rejected late, two completed that day.
    { item: 'cet-registration', department: 'academic-affairs', form: {}, path: ['rejected'], reason: '报名已截止', actor: 'clerk.jwc', late: true },
    { item: 'cet-registration', department: 'academic-affairs', form: {}, path: ['approved', 'completed'], actor: 'clerk.jwc', late: false },
    { item: 'cet-registration', department: 'academic-affairs', form: {}, path: ['approved', 'completed'], actor: 'clerk.jwc', late: false },
  ];
  writeFileSync(join(dir, 'plan.json'), JSON.stringify({ applications: plan.map((p) => ({ ...p, applicant: '2023010002', audience: 'student' })) }));
  const seed = JSON.parse(execFileSync(args.seed, ['--db', `${dir}/var/hub.db`, '--catalog', args.catalog, '--calendar', args.calendar,
    '--utc-offset', String(HALL_UTC_OFFSET), '--plan', join(dir, 'plan.json')], { encoding: 'utf8' }));
  seed.applications.forEach((a, i) => {
    // Late by the dates themselves: decided (or, open, today) after the due date, else not after it.
    const reference = a.closed_on || seed.today;
    if ((reference > a.due_date) !== plan[i].late || a.department !== plan[i].department)
      throw new Error(`the seed's ${JSON.stringify(a)} is not what the plan asked: ${JSON.stringify(plan[i])}`);
    made.push({ month: seed.month, item: a.item, department: a.department, late: plan[i].late });
  });
  const thisMonth = seed.today.slice(0, 7);
  // The seed's month is this one unless today is too early in it for anything
  // to be past due (then last month, to its last day, and no rating in it).
  const month = seed.month;
  const monthEnd = month === thisMonth ? seed.today
    : new Date(Date.UTC(Number(month.slice(0, 4)), Number(month.slice(5, 7)), 0)).toISOString().slice(0, 10);
  const hubd = start(args.hubd, ['--config', join(dir, 'hub.xml')], 'hubd');
  base = `http://127.0.0.1:${await portOf(join(dir, 'hubd.port'))}`;

  // The relay connects at start; from now on the consumer reads nothing.
  await waitFor('hubd ready', async () => (await fetch(`${base}/readyz`)).status === 200);
  await new Promise((r) => setTimeout(r, 300));
  consumer.kill('SIGSTOP');

  // Seed: a completed and rated leave, a rejected one, one still in review, a certificate through the plugin.
  const leave = { item_id: 'student-leave', form: { 'leave-type': 'sick', from: '2026-12-01', to: '2026-12-02', reason: '发烧，去校医院', phone: '13800000000' } };
  const ids = [];
  for (let i = 0; i < 3; i++) ids.push((await call('POST', '/api/v1/applications', '2023010001', leave)).body.id);
  for (const to of ['approved', 'completed']) await call('POST', `/api/v1/applications/${ids[0]}/transitions`, 'clerk.xsc', { to });
  await call('POST', `/api/v1/applications/${ids[1]}/transitions`, 'clerk.xsc', { to: 'rejected', reason: '材料不全' });
  const rated = await call('POST', `/api/v1/applications/${ids[0]}/rating`, '2023010001', { score: 5, comment: '很快' });
  if (rated.status !== 201) throw new Error(`rating: ${rated.status} ${JSON.stringify(rated.body)}`);
  const cert = await call('POST', '/api/v1/applications', '2023010001',
    { item_id: 'enrolment-certificate', form: { student_id: '2023010001', purpose: 'visa' } });
  if (cert.status !== 201) throw new Error(`certificate: ${cert.status} ${JSON.stringify(cert.body)}`);
  // A graduate leave: its flow waits in the supervisor's review.
  const gradLeave = await call('POST', '/api/v1/applications', '2023010001', { item_id: 'graduate-leave',
    form: { leave_type: 'academic', from: '2026-12-07', to: '2026-12-08', days: 2, supervisor_id: 'T2001', reason: '参加学术会议', phone: '13800000000' } });
  if (gradLeave.status !== 201) throw new Error(`graduate leave: ${gradLeave.status} ${JSON.stringify(gradLeave.body)}`);
  const repair = await call('POST', '/api/v1/applications', '2023010001', { item_id: 'dorm-repair',
    form: { building: '7号楼', room: '301', problem: 'plumbing', details: '水管漏水', phone: '13800000000' } });
  if (repair.status !== 201) throw new Error(`dorm repair: ${repair.status} ${JSON.stringify(repair.body)}`);
  // Today's, through the API: none late (each is due on a later day, or was decided today within its limit).
  for (const [item, department] of [['student-leave', 'student-affairs'], ['student-leave', 'student-affairs'], ['student-leave', 'student-affairs'],
    ['enrolment-certificate', 'academic-affairs'], ['graduate-leave', 'graduate-school'], ['dorm-repair', 'logistics']])
    made.push({ month: thisMonth, item, department, late: false });
  await waitFor('the incident', async () => (await call('GET', '/admin/flows/incidents', 'admin')).body.items.length > 0);
  await waitFor('dead letters', async () => (await call('GET', '/admin/events/dead-letters', 'admin')).body.items.length > 0);

  const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox', '--disable-gpu'] });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, locale: 'en-US' });
  page.setDefaultTimeout(15000);
  const consoleErrors = [];
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  const offline = [];
  page.on('request', (r) => { if (!r.url().startsWith(base) && !r.url().startsWith('blob:') && !r.url().startsWith('data:')) offline.push(r.url()); });
  const shot = (name) => page.screenshot({ path: join(args.artefacts, `${name}.png`), fullPage: true });
  onFailure = async (name) => {
    await shot(name);
    console.log(`  page text: ${(await page.locator('main').innerText()).slice(0, 600)}`);
  };

  await step('a bad token is refused, a good one logs in', async () => {
    await page.goto(`${base}/console`);
    await page.getByLabel('Bearer token').fill('not-a-token');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').waitFor();
    await page.getByLabel('Bearer token').fill(token('admin'));
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');  // the Log in button, reached by keyboard
    await page.getByRole('heading', { name: 'Overview', level: 1 }).waitFor();
    await page.locator('[data-plugin="student_affairs"][data-health="green"]').waitFor();
    await shot('01-overview-green');
  });

  await step('the plugin turns red when its vendor goes down', async () => {
    sim.kill('SIGTERM');
    await waitFor('the circuit to open', async () => {
      await call('POST', '/api/v1/systems/student_affairs/operations/get_student', 'clerk.xsc', { student_id: '2023010001' });
      const { body } = await call('GET', '/api/v1/systems', 'admin');
      return body.systems[0].circuit === 'open';
    });
    await page.locator('[data-plugin="student_affairs"][data-health="red"]').waitFor({ timeout: 12000 });
    await page.locator('#activity-chart svg').waitFor();
    await shot('02-overview-red');
  });

  await step('a dead letter is replayed from the page', async () => {
    consumer.kill('SIGCONT');  // the consumer is back: the replay reaches it
    const before = (await call('GET', '/admin/events/dead-letters', 'admin')).body.items.length;
    const button = page.getByRole('button', { name: /^Replay event / }).first();
    await button.focus();
    await page.keyboard.press('Enter');
    await page.locator('#replay-status').filter({ hasText: /1 event\(s\) sent again/ }).waitFor();
    await waitFor('the replayed event to be delivered', async () =>
      (await call('GET', '/admin/events/dead-letters', 'admin')).body.items.length === before - 1);
    await shot('03-replayed');
  });

  await step('a flow incident is shown on the overview and retried from the page', async () => {
    await page.getByRole('link', { name: 'Overview' }).click();
    const row = page.getByRole('row', { name: /Task_Dispatch/ });
    await row.getByRole('cell', { name: /logistics\.dispatch|logistics/ }).first().waitFor();
    const button = page.getByRole('button', { name: /^Retry incident / }).first();
    await button.focus();
    await page.keyboard.press('Enter');
    await page.locator('#incident-status').filter({ hasText: /retried/ }).waitFor();
    await shot('03b-incident');
  });

  await step('an application is found and its history shown', async () => {
    await page.getByRole('link', { name: 'Applications' }).click();
    await page.getByLabel('Person (id)').fill('2023010001');
    await page.getByLabel('Service item (id)').fill('student-leave');
    await page.getByLabel('Status').selectOption('completed');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText('1 found').waitFor();
    await page.getByRole('link', { name: `Open ${ids[0]}` }).click();
    await page.getByRole('heading', { name: 'History' }).waitFor();
    const rows = await page.locator('table').first().locator('tbody tr').count();
    if (rows < 3) throw new Error(`history has ${rows} rows`);
    await page.getByText('No flow diagram').or(page.locator('#flow-diagram svg')).first().waitFor();
    // The applicant's rating, with its comment.
    await page.locator('#rating').filter({ hasText: '5 / 5' }).filter({ hasText: '很快' }).waitFor();
    await shot('04-application');
  });

  await step("the application's trace lists its hops under one trace id", async () => {
    await page.locator('#trace-id').filter({ hasText: /^Trace id [0-9a-f]{32}$/ }).waitFor();
    // The submit and the clerk's two decisions, and the events the consumer got.
    const traceTable = page.locator('table', { has: page.locator('caption', { hasText: 'Trace: every hop' }) });
    await traceTable.getByRole('cell', { name: 'API call' }).first().waitFor();
    const calls = await traceTable.getByRole('cell', { name: 'API call' }).count();
    if (calls < 3) throw new Error(`the trace shows ${calls} API calls, not 3`);
    await shot('04b-trace');
  });

  await step("a flow's application shows its BPMN drawn by bpmn-js, the active and completed steps marked", async () => {
    // The real GET /api/v1/applications/{id}/flow of a hubd running the flow.
    await page.goto(`${base}/console#/applications/${encodeURIComponent(gradLeave.body.id)}`);
    await page.locator('#flow-diagram svg').first().waitFor();
    await page.locator('.djs-element.active[data-element-id="Task_SupervisorReview"]').waitFor();
    await page.locator('.djs-element.completed[data-element-id="StartEvent_Submitted"]').waitFor();
    await page.locator('#trace-id').waitFor();
    await shot('05-flow');
  });

  await step("this month's overdue rate per department and the satisfaction are read from the charts and the table", async () => {
    // The Done-when path: Evaluation, group by department, period month, from the first of the month.
    if (month !== thisMonth) console.log(`  (today, ${seed.today}, nothing of this month is past due yet: reading ${month})`);
    const expected = expectedFigures('department', month);
    const sa = expected.get('student-affairs');
    const aa = expected.get('academic-affairs');
    if (!sa.overdue || !aa.overdue || sa.overdue * aa.counted === aa.overdue * sa.counted)
      throw new Error(`the seed gives no two different overdue rates: ${JSON.stringify([...expected])}`);
    await page.getByRole('link', { name: 'Evaluation' }).click();
    await page.getByLabel('Group by', { exact: true }).selectOption('department');
    await page.getByLabel('Period', { exact: true }).selectOption('month');
    await page.getByLabel('From', { exact: true }).fill(`${month}-01`);
    await page.getByLabel('To', { exact: true }).fill(monthEnd);
    await page.getByRole('button', { name: 'Show' }).click();
    await page.waitForURL(/by=department/);
    const overdue = page.locator('#chart-overdue');
    await overdue.locator('svg').waitFor();
    await page.getByRole('heading', { name: 'Overdue rate per department' }).waitFor();
    // The table: each department's volume and overdue rate in the month, e.g.
    // student affairs 2 of 6 (33.3%), academic affairs 1 of 4 (25%), the rest 0%.
    checkTable(await figuresTable(page, { caption: 'Evaluation figures', period: 'Period', key: 'Item / department',
      volume: 'Volume', overdue: 'Overdue rate' }), month, expected);
    // The chart's tooltip for the month: every department at its figure.
    await overdue.hover();
    const tip = overdue.locator('.chart-tooltip').filter({ hasText: month });
    await tip.waitFor();
    const text = await tip.innerText();
    for (const [key, e] of expected) {
      if (!new RegExp(`\\(${key}\\)\\s*${percent(e).replace('.', '\\.')}`).test(text))
        throw new Error(`the overdue chart does not show ${key} at ${percent(e)}: ${JSON.stringify(text)}`);
    }
    // The export of the same figures.
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export CSV' }).click();
    checkCsv(readFileSync(await (await download).path(), 'utf8'), 'department', month);
    // Satisfaction: the 5 given today to student affairs, one rating.
    const satisfaction = page.locator('#chart-satisfaction');
    await satisfaction.locator('svg').waitFor();
    if (month === thisMonth) {
      await satisfaction.hover();
      const stip = satisfaction.locator('.chart-tooltip').filter({ hasText: month });
      await stip.waitFor();
      const stext = await stip.innerText();
      if (!/\(student-affairs\)\s*5\b/.test(stext) || !/Ratings\s*1\b/.test(stext))
        throw new Error(`the satisfaction chart does not show student affairs' 5 and one rating: ${JSON.stringify(stext)}`);
    }
    await page.locator('#chart-volume svg').waitFor();
    await page.locator('#chart-time svg').waitFor();
    await page.mouse.move(0, 0);
    await shot('06-evaluation');
  });

  await step('the evaluation per item is exported as CSV', async () => {
    await page.getByLabel('Group by').selectOption('item');
    await page.getByRole('button', { name: 'Show' }).click();
    // The item by its catalogue name, with its id.
    await page.getByRole('cell', { name: /^\S.* \(cet-registration\)$/ }).waitFor();
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Export CSV' }).click();
    checkCsv(readFileSync(await (await download).path(), 'utf8'), 'item', seed.month);
    await shot('06b-evaluation-item');
  });

  await step('the skip link moves the focus to the content, not the route', async () => {
    await page.getByRole('link', { name: 'Skip to the content' }).focus();
    await page.keyboard.press('Enter');
    if (!(await page.evaluate(() => document.activeElement?.id === 'main' && location.hash.startsWith('#/evaluation'))))
      throw new Error('the skip link did not move the focus to the content');
  });

  await step('the language switches to Chinese', async () => {
    await page.getByRole('button', { name: 'Switch the language to Chinese' }).click();
    await page.getByRole('heading', { name: '评价统计', level: 1 }).waitFor();
    await page.getByRole('link', { name: '办件查询' }).waitFor();
    await shot('07-evaluation-zh');
  });

  await step("a department clerk sees only their pages and their department's overdue rate", async () => {
    const clerk = await browser.newPage({ locale: 'zh-CN' });
    await clerk.goto(`${base}/console`);
    await clerk.getByLabel('访问令牌').fill(token('clerk.xsc'));
    await clerk.getByRole('button', { name: '登录' }).click();
    await clerk.getByRole('heading', { name: '办件查询', level: 1 }).waitFor();
    if (await clerk.getByRole('link', { name: '运行概览' }).count()) throw new Error('a clerk sees the overview');
    // Their department's figures, and no other department's.
    await clerk.goto(`${base}/console#/evaluation?by=department&period=month&from=${month}-01&to=${monthEnd}`);
    const rows = await figuresTable(clerk, { caption: '评价统计', period: '周期', key: '事项 / 部门', volume: '办件量', overdue: '超期率' });
    const own = new Map([['student-affairs', expectedFigures('department', month).get('student-affairs')]]);
    checkTable(rows, month, own);
    if (rows.some((r) => r.key !== 'student-affairs')) throw new Error(`a clerk sees other departments: ${JSON.stringify(rows)}`);
    await clerk.screenshot({ path: join(args.artefacts, '08-clerk.png'), fullPage: true });
    await clerk.close();
  });

  await step('both dictionaries hold the same keys', async () => {
    const text = readFileSync(new URL('../src/i18n.js', import.meta.url), 'utf8');
    const [en, zh] = text.split(/^  zh: \{$/m);
    const keys = (part) => new Set([...part.matchAll(/^    '([\w.]+)':/gm)].map((m) => m[1]));
    const a = keys(en);
    const b = keys(zh);
    const missing = [...a].filter((k) => !b.has(k)).concat([...b].filter((k) => !a.has(k)));
    if (a.size < 50 || missing.length) throw new Error(`keys in one dictionary only: ${missing.join(', ')}`);
  });

  await step('nothing was fetched from outside the hub, no script error', async () => {
    if (offline.length) throw new Error(`requests outside the hub: ${offline.join(', ')}`);
    if (consoleErrors.length) throw new Error(`page errors: ${consoleErrors.join('; ')}`);
  });

  await browser.close();
  if (failures) console.log(`--- hubd said:\n${hubd.output.slice(-4000)}`);
} catch (e) {
  failures++;
  console.log(`FAIL setup: ${e.stack || e}`);
  for (const c of children) console.log(`--- ${c.name}:\n${c.output.slice(-3000)}`);
} finally {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 200));
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
console.log(failures ? `${failures} step(s) failed; screenshots in ${args.artefacts}` : `all steps passed; screenshots in ${args.artefacts}`);
process.exit(failures ? 1 : 0);
