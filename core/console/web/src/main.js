// The console: log in with a pasted token, then the pages the caller's roles
// allow. Hash routes (#/overview, #/applications?..., #/applications/<id>,
// #/evaluation?...), so hubd serves one index.html and nothing else.
import './style.css';
import 'bpmn-js/dist/assets/diagram-js.css';
import { api, setToken, token } from './api.js';
import { h, message } from './dom.js';
import { lang, setLang, t } from './i18n.js';
import { forgetNames } from './names.js';
import { overview } from './pages/overview.js';
import { application, applications } from './pages/applications.js';
import { evaluation } from './pages/evaluation.js';

const root = document.getElementById('app');
let user = null;
let refreshTimer = null;

function departmentsOf(roles) {
  return [...new Set(roles.filter((r) => r.startsWith('dept:')).map((r) => r.split(':')[1]).filter(Boolean))];
}

function pagesFor(u) {
  const pages = [];
  if (u.roles.includes('hub:admin')) pages.push('overview');
  if (u.roles.includes('hub:admin') || u.departments.length) pages.push('applications', 'evaluation');
  return pages;
}

function navigate(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

function header() {
  const pages = user ? pagesFor(user) : [];
  const current = location.hash.slice(2).split(/[/?]/)[0];
  return h('header', {},
    h('p', { className: 'brand' }, t('app.title')),
    user ? h('nav', { 'aria-label': t('app.title') }, h('ul', {}, pages.map((p) =>
      h('li', {}, h('a', { href: `#/${p}`, 'aria-current': p === current ? 'page' : null }, t(`nav.${p}`)))))) : null,
    h('div', { className: 'tools' },
      user ? h('span', { className: 'who' }, t('login.as', { name: user.name || user.id, id: user.id })) : null,
      h('button', {
        type: 'button', id: 'lang', lang: lang() === 'zh' ? 'en' : 'zh', 'aria-label': t('lang.switchLabel'),
        onClick: () => { setLang(lang() === 'zh' ? 'en' : 'zh'); render(); },
      }, t('lang.switch')),
      user ? h('button', { type: 'button', id: 'logout', onClick: logout }, t('nav.logout')) : null));
}

function loginPage(error) {
  const input = h('textarea', { id: 'token', name: 'token', rows: 4, required: true, spellcheck: 'false', autocomplete: 'off' });
  return h('section', { 'aria-labelledby': 'login-title', className: 'login' },
    h('h1', { id: 'login-title', tabindex: '-1' }, t('login.title')),
    h('p', {}, t('login.help')),
    error ? message(t('login.refused', { detail: error }), 'error') : null,
    h('form', {
      onSubmit: async (event) => {
        event.preventDefault();
        setToken(input.value.trim());
        await signIn();
      },
    }, h('label', { for: 'token' }, t('login.token')), input, h('button', { type: 'submit' }, t('login.submit'))));
}

async function signIn() {
  try {
    const me = await api('/api/v1/identities/me');
    user = { ...me, roles: me.roles || [], departments: departmentsOf(me.roles || []) };
    const pages = pagesFor(user);
    if (!location.hash || location.hash === '#/' || location.hash === '#/login') location.hash = `#/${pages[0] || 'none'}`;
    else render();
  } catch (e) {
    setToken(null);
    user = null;
    render(e.message);
  }
}

function logout() {
  forgetNames();
  setToken(null);
  user = null;
  location.hash = '#/login';
  render();
}

async function render(loginError) {
  clearInterval(refreshTimer);
  document.title = t('app.title');
  document.documentElement.lang = lang() === 'zh' ? 'zh-CN' : 'en';
  const main = h('main', { id: 'main', tabindex: '-1' });
  // The skip link moves focus, not the route (routes live in the hash too).
  const skip = h('a', {
    href: '#main', className: 'skip',
    onClick: (event) => { event.preventDefault(); main.focus(); },
  }, t('nav.skip'));
  root.replaceChildren(skip, header(), main);
  if (!user) {
    main.append(loginPage(loginError));
    main.querySelector('h1').focus();
    return;
  }
  const [path, query] = location.hash.slice(2).split('?');
  const [page, id] = path.split('/');
  const pages = pagesFor(user);
  const title = h('h1', { tabindex: '-1' }, t(`nav.${page}`));
  main.append(title);
  if (!pages.includes(page)) {
    title.textContent = t('app.title');
    main.append(message(t('common.forbidden')));
    return;
  }
  const body = h('div', { 'aria-busy': 'true' }, message(t('common.loading')));
  main.append(body);
  title.focus();
  const params = { id: id && decodeURIComponent(id), query };
  const content = h('div', {});
  const refresh = async () => {
    // Not under a keyboard user's focus: the page waits until focus leaves it.
    if (content.contains(document.activeElement) && document.activeElement !== document.body) return;
    const fresh = h('div', {});
    try {
      await overview(fresh, { refresh });
      content.replaceChildren(...fresh.childNodes);
    } catch {
      /* keep what is shown */
    }
  };
  try {
    if (page === 'overview') {
      await overview(content, { refresh });
      // The overview follows the hub by itself: health, lag and dead letters change.
      refreshTimer = setInterval(refresh, 5000);
    } else if (page === 'applications' && id) await application(content, { params });
    else if (page === 'applications') await applications(content, { user, params, navigate });
    else if (page === 'evaluation') await evaluation(content, { user, params, navigate });
    body.replaceWith(content);
  } catch (e) {
    body.replaceWith(message(t('common.error', { detail: e.message }), 'error'));
  }
}

window.addEventListener('hashchange', () => render());
window.addEventListener('campushub:unauthorized', (e) => {
  if (!user) return;
  setToken(null);
  user = null;
  render(e.detail);
});

if (token()) signIn();
else render();
