// The live project page: comments and edits made in other browsers appear without a reload,
// and the page says how many people have it open. The server sends JSON events over a
// WebSocket (sample/projects/live.controller.ts): { type: 'comment', comment },
// { type: 'project', project }, { type: 'deleted' }, { type: 'viewers', count }.
// The page works without this script: the comment form posts and the page reloads.
(() => {
  'use strict';

  const section = document.querySelector('section[data-live]');
  const article = document.querySelector('article.project');
  if (!section || !article || !('WebSocket' in window)) return;
  const list = section.querySelector('[data-comments]');
  const none = section.querySelector('[data-no-comments]');
  const viewers = section.querySelector('[data-viewers]');
  const form = section.querySelector('form[data-comment-form]');

  // ---- The page, changed with textContent only: nothing the server relays is ever parsed as HTML.

  const isLocalPath = (url) => typeof url === 'string' && /^\/(?![/\\])/.test(url);

  function lastCommentId() {
    let last = 0;
    for (const li of list.children) last = Math.max(last, Number(li.dataset.commentId) || 0);
    return last;
  }

  /** Adds a comment in id order, once (a reconnect may send one the page already has). */
  function addComment(comment, fresh) {
    if (!comment || !Number.isSafeInteger(comment.id) || comment.id <= 0) return null;
    const existing = document.getElementById(`comment-${comment.id}`);
    if (existing) return existing;
    const li = document.createElement('li');
    li.className = fresh ? 'comment comment-new' : 'comment';
    li.id = `comment-${comment.id}`;
    li.dataset.commentId = String(comment.id);
    const meta = document.createElement('p');
    meta.className = 'comment-meta';
    const url = comment.author && comment.author.url;
    const author = document.createElement(isLocalPath(url) ? 'a' : 'span');
    if (isLocalPath(url)) author.href = url;
    author.textContent = String((comment.author && comment.author.name) || '');
    const time = document.createElement('time');
    time.dateTime = String(comment.created_at || '');
    time.textContent = String(comment.created || '');
    meta.append(author, ' ', time);
    const body = document.createElement('p');
    body.className = 'comment-body';
    body.textContent = String(comment.body || '');
    li.append(meta, body);
    const later = [...list.children].find((other) => Number(other.dataset.commentId) > comment.id);
    list.insertBefore(li, later || null);
    none.hidden = true;
    return li;
  }

  /** The heading is `name <code class="slug">slug</code>`: the name is its first text node. */
  function updateProject(project) {
    if (!project || typeof project.name !== 'string') return;
    const h1 = article.querySelector('h1');
    let name = h1.firstChild;
    if (!name || name.nodeType !== Node.TEXT_NODE)
      name = h1.insertBefore(document.createTextNode(''), h1.firstChild);
    const old = name.data.trim();
    name.data = `${project.name} `;
    const slug = h1.querySelector('.slug');
    if (slug) slug.textContent = String(project.slug || '');
    const lead = article.querySelector('.lead');
    if (lead) lead.textContent = project.description || 'No description yet.';
    if (document.title.startsWith(`${old} · `))
      document.title = project.name + document.title.slice(old.length);
    const remove = article.querySelector('form[data-confirm]');
    if (remove) remove.dataset.confirm = `Delete “${project.name}”?`;
  }

  function markDeleted() {
    gone = true;
    if (article.querySelector('.project-gone')) return;
    const note = document.createElement('p');
    note.className = 'flash flash-error project-gone';
    note.setAttribute('role', 'alert');
    note.textContent = 'This project was deleted. The page shows it as it was.';
    article.querySelector('h1').after(note);
    const actions = article.querySelector('.actions');
    if (actions) actions.hidden = true;
    if (form) for (const control of form.elements) control.disabled = true;
    viewers.hidden = true;
  }

  function showViewers(count) {
    if (!Number.isSafeInteger(count) || count < 0) return;
    viewers.hidden = false;
    viewers.dataset.state = 'live';
    viewers.textContent = `${count} viewing`;
    viewers.title =
      count === 1
        ? 'Only this page has the project open'
        : `${count} pages have this project open, this one included`;
  }

  function showOffline(text) {
    viewers.hidden = false;
    viewers.dataset.state = 'offline';
    viewers.textContent = text;
    viewers.title = 'Changes made elsewhere appear once the page is connected again';
  }

  function handle(event) {
    if (!event || typeof event !== 'object') return;
    if (event.type === 'comment') addComment(event.comment, true);
    else if (event.type === 'project') updateProject(event.project);
    else if (event.type === 'viewers') showViewers(event.count);
    else if (event.type === 'deleted') markDeleted();
  }

  // ---- The connection: reconnects with a growing, jittered delay when it drops; not when the
  // page goes away, nor when the server ends it on purpose (1000: the project was deleted).

  let socket = null;
  let retry = null;
  let attempts = 0;
  let hidden = false; // the page is being left (or frozen in the back/forward cache)
  let gone = false; // the project was deleted

  function connect() {
    retry = null;
    if (hidden || gone) return;
    const url = new URL(section.dataset.live, window.location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    // What the page missed since it was rendered, or while it was disconnected, comes first.
    url.searchParams.set('since', String(lastCommentId()));
    const ws = new WebSocket(url.href);
    socket = ws;
    let openedAt = 0;
    ws.addEventListener('open', () => {
      openedAt = Date.now();
    });
    ws.addEventListener('message', (e) => {
      if (typeof e.data !== 'string') return;
      let event;
      try {
        event = JSON.parse(e.data);
      } catch {
        return;
      }
      handle(event);
    });
    ws.addEventListener('close', (e) => {
      if (socket === ws) socket = null;
      if (hidden || gone) return;
      if (e.code === 1000) {
        showOffline('Not live');
        return;
      }
      // A connection that lasted starts the delays over; one that keeps failing waits longer each time (at most 30 s).
      if (openedAt !== 0 && Date.now() - openedAt > 10_000) attempts = 0;
      const delay = Math.min(30_000, 1000 * 2 ** attempts) * (0.5 + Math.random() / 2);
      attempts += 1;
      showOffline('Reconnecting…');
      retry = window.setTimeout(connect, delay);
    });
  }

  window.addEventListener('pagehide', () => {
    hidden = true;
    window.clearTimeout(retry);
    retry = null;
    if (socket) socket.close(1000, 'page closed');
    socket = null;
  });
  window.addEventListener('pageshow', (e) => {
    if (!e.persisted) return;
    hidden = false;
    attempts = 0;
    if (!socket && retry === null) connect();
  });
  window.addEventListener('online', () => {
    if (retry === null) return;
    window.clearTimeout(retry);
    connect();
  });

  connect();

  // ---- The comment form posts without leaving the page (the same form, asking for JSON).

  if (!form || !window.fetch) return;
  const textarea = form.querySelector('textarea');
  const button = form.querySelector('button[type="submit"]');

  function showError(message) {
    let p = form.querySelector('#comment-error');
    if (!message) {
      if (p) p.remove();
      textarea.removeAttribute('aria-invalid');
      textarea.removeAttribute('aria-describedby');
      return;
    }
    if (!p) {
      p = document.createElement('p');
      p.id = 'comment-error';
      p.className = 'field-error';
      p.setAttribute('role', 'alert');
      textarea.after(p);
    }
    p.textContent = message;
    textarea.setAttribute('aria-invalid', 'true');
    textarea.setAttribute('aria-describedby', 'comment-error');
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (button.disabled) return;
    button.disabled = true;
    try {
      let res;
      try {
        res = await fetch(form.action, {
          method: 'POST',
          headers: { accept: 'application/json' },
          body: new URLSearchParams(new FormData(form)),
          credentials: 'same-origin',
        });
      } catch {
        showError('The comment could not be sent: check the connection and try again.');
        return;
      }
      if (res.status === 401 || res.status === 403) {
        // Logged out meanwhile, or an old form: the plain post leads to the login or says why.
        form.submit();
        return;
      }
      const answer = await res.json().catch(() => ({}));
      if (res.status === 201) {
        showError(null);
        textarea.value = '';
        const li = addComment(answer.comment, false);
        if (li) li.scrollIntoView({ block: 'nearest' });
      } else if (res.status === 404) {
        markDeleted();
      } else {
        showError(answer.detail || 'The comment could not be added; try again.');
      }
    } finally {
      if (!gone) button.disabled = false;
    }
  });
})();
