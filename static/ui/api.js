// The API client: the access token lives only in this module's memory; the
// refresh token is an HttpOnly cookie the server sets on login, redeem and
// refresh, so script never sees it.

const BASE = '/api/v1';
const HINT = 'pg.session'; // "a refresh cookie probably exists": avoids a pointless 401 on first visit

let accessToken = null;
let currentUser = null;
let refreshing = null;
const listeners = new Set();

export class ApiError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || defaultMessage(status));
    this.name = 'ApiError';
    this.status = status;
    this.code = e.code || 'http_' + status;
    this.fields = e.fields || null;
    this.blockers = e.blockers || null;
  }
}

function defaultMessage(status) {
  if (status === 0) return 'Could not reach the server. Check your connection and try again.';
  if (status === 401) return 'Your session has ended: please sign in again.';
  if (status === 403) return 'You are not allowed to do that.';
  if (status === 404) return 'Not found.';
  if (status === 413) return 'That is too large.';
  if (status === 429) return 'Too many requests: wait a moment and try again.';
  return `The server answered ${status}.`;
}

export function user() {
  return currentUser;
}

export function token() {
  return accessToken;
}

export function onAuthChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function setSession(access, u) {
  const before = currentUser ? currentUser.id : null;
  accessToken = access || null;
  if (u !== undefined) currentUser = u || null;
  try {
    if (accessToken) localStorage.setItem(HINT, '1');
    else localStorage.removeItem(HINT);
  } catch (_) { /* storage may be disabled */ }
  const after = currentUser ? currentUser.id : null;
  if (before !== after) for (const fn of listeners) fn(currentUser);
}

async function parse(res) {
  if (res.status === 204) return null;
  const type = res.headers.get('Content-Type') || '';
  if (type.includes('application/json')) {
    try {
      return await res.json();
    } catch (_) {
      return null;
    }
  }
  return null;
}

async function rawFetch(path, opts) {
  try {
    return await fetch(path, { credentials: 'same-origin', cache: 'no-store', ...opts });
  } catch (err) {
    if (err && err.name === 'AbortError') throw err;
    throw new ApiError(0, null);
  }
}

// Uses the refresh cookie to get a new access token. Only one refresh runs at
// a time: a refresh token is single use, and reusing one revokes the session.
// Tabs of one browser share the cookie: a Web Lock (where available)
// serialises their refreshes so no two send the same refresh token.
function withRefreshLock(fn) {
  if (navigator.locks && navigator.locks.request) return navigator.locks.request('playgate-refresh', fn);
  return fn();
}

export function refreshSession() {
  if (!refreshing) {
    refreshing = (async () => {
      try {
        const res = await withRefreshLock(() => rawFetch(BASE + '/auth/refresh', { method: 'POST', headers: { Accept: 'application/json' } }));
        if (!res.ok) {
          setSession(null, null);
          return false;
        }
        const body = await parse(res);
        if (!body || !body.access_token) {
          setSession(null, null);
          return false;
        }
        accessToken = body.access_token;
        let u = body.user;
        if (!u) {
          const me = await rawFetch(BASE + '/me', { headers: { Authorization: 'Bearer ' + accessToken, Accept: 'application/json' } });
          u = me.ok ? await parse(me) : null;
        }
        setSession(body.access_token, u);
        return Boolean(u);
      } catch (_) {
        return false;
      } finally {
        refreshing = null;
      }
    })();
  }
  return refreshing;
}

// Restores the session on page load, when a refresh cookie may exist.
export async function restore() {
  let hint = null;
  try {
    hint = localStorage.getItem(HINT);
  } catch (_) { /* ignore */ }
  if (!hint) return null;
  const ok = await refreshSession();
  return ok ? currentUser : null;
}

// request(method, path, body?, opts?) calls the API and returns the decoded
// JSON (null for 204). Errors throw ApiError carrying the API's message.
export async function request(method, path, body, opts = {}) {
  const url = path.startsWith('/') && !path.startsWith(BASE) ? BASE + path : path;
  const attempt = async () => {
    const headers = { Accept: 'application/json', ...(opts.headers || {}) };
    if (accessToken) headers.Authorization = 'Bearer ' + accessToken;
    let payload;
    if (body instanceof FormData) payload = body;
    else if (body !== undefined && body !== null) {
      headers['Content-Type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    return rawFetch(url, { method, headers, body: payload, signal: opts.signal });
  };
  let res = await attempt();
  if (res.status === 401 && !opts.noRefresh && accessToken) {
    if (await refreshSession()) res = await attempt();
  }
  if (opts.raw) {
    if (!res.ok) throw new ApiError(res.status, await parse(res));
    return res;
  }
  const data = await parse(res);
  if (!res.ok) {
    const err = new ApiError(res.status, data);
    if (res.status === 401 && !opts.noRefresh) setSession(null, null);
    throw err;
  }
  return data;
}

export const get = (p, opts) => request('GET', p, undefined, opts);
export const post = (p, b, opts) => request('POST', p, b === undefined ? {} : b, opts);
export const put = (p, b, opts) => request('PUT', p, b, opts);
export const patch = (p, b, opts) => request('PATCH', p, b, opts);
export const del = (p, opts) => request('DELETE', p, undefined, opts);

// qs({a: 1, b: ''}) → "?a=1", skipping empty values.
export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  }
  const str = u.toString();
  return str ? '?' + str : '';
}

// Fetches every page of a list (bounded, for small lists).
export async function all(path, params = {}, maxPages = 20) {
  const items = [];
  let cursor = null;
  for (let i = 0; i < maxPages; i++) {
    const page = await get(path + qs({ ...params, limit: 200, cursor }));
    items.push(...((page && page.items) || []));
    cursor = page && page.next_cursor;
    if (!cursor) break;
  }
  return items;
}

export async function login(email, password) {
  const res = await rawFetch(BASE + '/auth/login', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ email, password }),
  });
  const data = await parse(res);
  if (!res.ok) throw new ApiError(res.status, data);
  setSession(data.access_token, data.user);
  return data.user;
}

export async function redeem(token, name, password) {
  const body = { token, password };
  if (name) body.name = name;
  const res = await rawFetch(BASE + '/invites/redeem', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify(body),
  });
  const data = await parse(res);
  if (!res.ok) throw new ApiError(res.status, data);
  setSession(data.access_token, data.user);
  return data;
}

export async function logout() {
  try {
    await rawFetch(BASE + '/auth/logout', { method: 'POST', headers: { Accept: 'application/json' } });
  } catch (_) { /* signing out locally is enough */ }
  setSession(null, null);
}

// Fetches a protected file (attachment, CSV) as a Blob.
export async function blob(path) {
  const res = await request('GET', path, undefined, { raw: true, headers: { Accept: '*/*' } });
  return res.blob();
}

// Downloads a protected file through an object URL.
export async function download(path, filename) {
  const b = await blob(path);
  const url = URL.createObjectURL(b);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.className = 'offscreen';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// Consumes a Server-Sent Events stream with fetch (EventSource cannot send
// the Authorization header). Reconnects with Last-Event-ID after a drop.
// Returns a function that stops it.
export function events(path, onEvent, onStatus = () => {}) {
  const url = path.startsWith(BASE) ? path : BASE + path;
  let stopped = false;
  let ctrl = null;
  let lastId = null;
  let timer = null;
  let delay = 1000;

  const sleep = (ms) => new Promise((r) => { timer = setTimeout(r, ms); });

  async function once() {
    ctrl = new AbortController();
    const headers = { Accept: 'text/event-stream' };
    if (accessToken) headers.Authorization = 'Bearer ' + accessToken;
    if (lastId) headers['Last-Event-ID'] = lastId;
    const res = await fetch(url, { headers, signal: ctrl.signal, credentials: 'same-origin', cache: 'no-store' });
    if (res.status === 401) {
      if (res.body) res.body.cancel().catch(() => {});
      return (await refreshSession()) ? 'retry' : 'fatal';
    }
    if (!res.ok || !res.body) {
      if (res.body) res.body.cancel().catch(() => {});
      return res.status === 403 || res.status === 404 ? 'fatal' : 'drop';
    }
    onStatus('live');
    delay = 1000;
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    let ev = { event: '', data: [], id: null };
    const line = (l) => {
      if (l === '') {
        if (ev.id !== null) lastId = ev.id;
        if (ev.data.length) {
          let data = ev.data.join('\n');
          try {
            data = JSON.parse(data);
          } catch (_) { /* keep the text */ }
          try {
            onEvent(ev.event || 'message', data);
          } catch (_) { /* a listener's error must not end the stream */ }
        }
        ev = { event: '', data: [], id: null };
        return;
      }
      if (l.startsWith(':')) return;
      const i = l.indexOf(':');
      const name = i < 0 ? l : l.slice(0, i);
      let value = i < 0 ? '' : l.slice(i + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (name === 'event') ev.event = value;
      else if (name === 'data') ev.data.push(value);
      else if (name === 'id' && !value.includes('\0')) ev.id = value;
    };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      for (;;) {
        const m = /\r\n|\r|\n/.exec(buf);
        if (!m) break;
        // a lone CR at the very end may be the first half of CRLF
        if (m[0] === '\r' && m.index === buf.length - 1) break;
        line(buf.slice(0, m.index));
        buf = buf.slice(m.index + m[0].length);
      }
    }
    return 'drop';
  }

  (async () => {
    onStatus('connecting');
    while (!stopped) {
      let outcome;
      try {
        outcome = await once();
      } catch (_) {
        outcome = 'drop';
      }
      if (stopped) return;
      if (outcome === 'fatal') {
        onStatus('off');
        return;
      }
      if (outcome === 'retry') continue;
      onStatus('reconnecting');
      await sleep(delay);
      delay = Math.min(delay * 2, 15000);
    }
  })();

  return () => {
    stopped = true;
    clearTimeout(timer);
    if (ctrl) ctrl.abort();
  };
}
