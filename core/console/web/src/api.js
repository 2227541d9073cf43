// The hub's API with the token the operator pasted (sessionStorage: this tab only).
const KEY = 'campushub.token';

export function token() {
  return sessionStorage.getItem(KEY);
}
export function setToken(value) {
  if (value) sessionStorage.setItem(KEY, value);
  else sessionStorage.removeItem(KEY);
}

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

// GET (or another method) of a hub path; JSON back, or an ApiError with the
// problem's detail. 401 logs out: the token expired or was refused.
export async function api(path, { method = 'GET', raw = false } = {}) {
  const response = await fetch(path, {
    method,
    headers: { Authorization: `Bearer ${token()}`, Accept: 'application/json' },
  });
  if (!response.ok) {
    let detail = `${response.status} ${response.statusText}`;
    try {
      const problem = await response.json();
      if (problem.detail) detail = problem.detail;
    } catch {
      /* not problem+json */
    }
    if (response.status === 401) window.dispatchEvent(new CustomEvent('campushub:unauthorized', { detail }));
    throw new ApiError(response.status, detail);
  }
  return raw ? response : response.json();
}
