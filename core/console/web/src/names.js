// Items' and departments' names in both languages, from the catalogue the
// caller may see (an admin sees every item); an id without a name shows as itself.
import { api } from './api.js';
import { lang } from './i18n.js';

let loaded = null;

export function loadNames() {
  loaded ??= api('/api/v1/catalog/services?limit=1000').then((page) => {
    const items = new Map();
    const departments = new Map();
    for (const item of page.items || []) {
      items.set(item.id, item.name);
      if (item.department) departments.set(item.department.id, item.department.name);
    }
    return { items, departments };
  }).catch(() => ({ items: new Map(), departments: new Map() }));
  return loaded;
}

// "学生请假 (student-leave)": the name in the current language, and the id.
export function named(map, id) {
  const name = map?.get(id)?.[lang()];
  return name ? `${name} (${id})` : id;
}

// Another person logs in: their catalogue may differ.
export function forgetNames() {
  loaded = null;
}
