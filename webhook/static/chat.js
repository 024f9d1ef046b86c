/* The web chat page: keeps a session in localStorage, sends what the member types or taps
   (queued until the server has it), and long-polls the bot's replies. No library, no build.
   Every visible word comes from #chat-texts, which the server translated into the language
   the member chose in the conversation, once they chose one (see follow). */
(function () {
  'use strict';
  var $ = function (id) { return document.getElementById(id); };
  var texts = JSON.parse($('chat-texts').textContent);
  var log = $('log'), scroller = $('scroller'), input = $('text'), form = $('composer'), statusLine = $('status'), typing = $('typing');
  var API = 'chat/api/messages', KEY = 'childpact-chat', KEEP = 300, WAIT = 25;
  // An embedding page that asked for a language wants the bot in it too.
  var lang = (new URLSearchParams(location.search).get('lang') && document.documentElement.lang) || navigator.language || '';
  var embedded = document.body.classList.contains('embed') && window.parent !== window;
  var state, cursor = 0, shown = 0, caughtUp = false, generation = 0, started = false, sending = false;
  var pollAbort = null, typingTimer = 0, wakers = [], problems = { poll: '', send: '' }, afresh = false, drawn = [];

  function uid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID().replace(/-/g, '');
    var bytes = new Uint8Array(16);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join('');
  }

  function load() {
    try {
      var saved = JSON.parse(localStorage.getItem(KEY) || 'null');
      if (/^[A-Za-z0-9_-]{16,64}$/.test(saved.session) && Array.isArray(saved.mine)) {
        var locale = /^[A-Za-z_]{2,12}$/.test(saved.locale) ? saved.locale : null;
        return { session: saved.session, mine: saved.mine.slice(-KEEP), since: Math.max(0, saved.since | 0), locale: locale };
      }
    } catch (e) { /* nothing saved, storage blocked or damaged: start afresh */ }
    return null;
  }
  function save() {
    try { localStorage.setItem(KEY, JSON.stringify(state)); } catch (e) { /* private mode: memory only */ }
  }

  function sleep(ms) {  // ends early when the browser says the network is back
    return new Promise(function (resolve) {
      var done = function () { clearTimeout(timer); resolve(); }, timer = setTimeout(done, ms);
      wakers.push(done);
    });
  }

  function named(ids) { return ids.map(function (id) { return '&had=' + id; }).join(''); }
  function backoff(failures) { return Math.min(30000, 1000 * Math.pow(2, failures - 1)) * (0.75 + Math.random() / 2); }
  function showStatus() {
    var key = !navigator.onLine ? 'offline' : problems.send || problems.poll;
    statusLine.textContent = key ? texts[key] : '';
    statusLine.className = 'status' + (key ? ' on ' + key : '');
  }

  function nearBottom() { return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80; }
  function toBottom() { scroller.scrollTop = scroller.scrollHeight; }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    node.className = cls || '';
    node.textContent = text || '';
    return node;
  }

  function safeUrl(url) {
    try { var u = new URL(url, location.href); return /^https?:$/.test(u.protocol) ? u.href : null; } catch (e) { return null; }
  }
  function link(href, label, cls) {
    var a = el('a', cls, label); a.href = href; a.target = '_blank'; a.rel = 'noopener noreferrer';
    return a;
  }

  function paragraph(text) {  // text nodes only; web addresses become links
    var p = el('p', 'text');
    p.dir = 'auto';
    text.split(/(https?:\/\/[^\s<>"]+[^\s<>".,;:!?)\]'])/).forEach(function (part, i) {
      p.appendChild(i % 2 && safeUrl(part) ? link(part, part) : document.createTextNode(part));
    });
    return p;
  }

  function bubble(cls) {  // bot bubbles go before those typed while the history was loading
    var li = el('li', 'msg ' + cls), stick = nearBottom();
    log.insertBefore(li, log.querySelector('.early'));
    return { li: li, stick: stick };
  }

  function showMine(entry, early) {
    var li = el('li', 'msg me' + (entry.sent ? '' : ' pending') + (early ? ' early' : ''));
    li.id = 'm-' + entry.id;
    li.appendChild(paragraph(entry.text));
    log.insertBefore(li, early ? null : log.querySelector('.early'));
    toBottom();
  }

  // The member's bubbles are stored with the cursor they were sent at, to be replayed in place.
  function showMineUpTo(botId) {
    for (; shown < state.mine.length && (botId === undefined || state.mine[shown].after < botId); shown++) {
      var entry = state.mine[shown];
      if (!entry.hidden && !$('m-' + entry.id)) showMine(entry, false);
    }
  }

  function caughtUpNow() {
    caughtUp = true;
    showMineUpTo();
    state.mine.forEach(function (m) { if (m.early) { m.after = cursor; m.early = false; } });
    log.querySelectorAll('.early').forEach(function (li) { li.classList.remove('early'); });
    save();
    toBottom();
  }

  function showBot(m) {
    if (m.once) drawn.push(m.id);  // the member's own data, a goodbye: the next poll says it was drawn
    showMineUpTo(m.id);
    var b = bubble('bot'), url = m.image_url && safeUrl(m.image_url), chips = el('div', 'chips');
    if (url) {
      var img = el('img', 'picture');
      img.src = url; img.alt = ''; img.loading = 'lazy';
      img.onload = function () { if (b.stick) toBottom(); };
      b.li.appendChild(img);
    }
    if (m.text) b.li.appendChild(paragraph(m.text));
    (m.buttons || []).forEach(function (row) {
      row.forEach(function (button) {
        var href = button.url && safeUrl(button.url);
        if (href) return chips.appendChild(link(href, button.label, 'chip link'));
        var chip = el('button', 'chip', button.label);
        chip.type = 'button';
        chip.onclick = function () { send(button.label, button.payload); };
        chips.appendChild(chip);
      });
    });
    if (chips.firstChild) b.li.appendChild(chips);
    if (b.stick) toBottom();
  }

  function send(text, payload, hidden) {
    again();
    var entry = { id: uid(), after: cursor, text: text, payload: payload || null, sent: false, hidden: !!hidden, early: !caughtUp };
    state.mine.push(entry);
    save();
    if (!hidden) showMine(entry, !caughtUp);
    flush();
  }

  async function flush() {
    if (sending) return;
    sending = true;
    var failures = 0, entry;
    while ((entry = state.mine.find(function (m) { return !m.sent; }))) {
      var gen = generation;
      try {
        var response = await fetch(API, {
          method: 'POST', headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ session: state.session, id: entry.id, text: entry.text, payload: entry.payload, lang: lang })
        });
        // Server trouble is worth retrying; a refused message (4xx) never will be.
        if (response.status >= 500 || response.status === 408 || response.status === 429) throw new Error(response.status);
        if (gen !== generation) continue;
        entry.sent = true;
        save();
        var sent = $('m-' + entry.id);
        if (sent) sent.classList.remove('pending');
        failures = 0;
        problems.send = '';
        showTyping(cursor <= entry.after);  // unless the answer came already
      } catch (e) {
        problems.send = 'retrying';
        showStatus();
        await sleep(backoff(++failures));
      }
      showStatus();
    }
    sending = false;
  }

  function showTyping(on) {
    clearTimeout(typingTimer);
    if (on) typingTimer = setTimeout(function () { typing.hidden = true; }, 20000);
    var stick = nearBottom();
    typing.hidden = !on;
    if (stick) toBottom();
  }

  async function poll(gen) {
    var failures = 0, wait = 0;  // catch up on the history first, then wait for replies
    while (gen === generation) {
      var abort = pollAbort = new AbortController();
      var timer = setTimeout(function () { abort.abort(); }, (wait + 10) * 1000);
      var had = state.mine.some(function (m) { return m.sent; });  // the server had it before asking
      try {
        var told = drawn.splice(0), query = '?session=' + state.session + '&after=' + cursor + '&wait=' + wait + named(told) + (document.hidden ? '' : '&seen=' + cursor);  // read, if in sight
        var response = await fetch(API + query, { cache: 'no-store', signal: abort.signal });
        if (!response.ok) throw new Error(response.status);
        var data = await response.json();
        if (gen !== generation) return;
        if (data.erased && (had || data.messages.length)) return forget(data.messages);
        if (data.messages.length) showTyping(false);
        data.messages.forEach(showBot);
        cursor = Math.max(cursor, data.cursor);
        if (data.locale !== state.locale) { state.locale = data.locale; save(); }
        if (!data.messages.length && !caughtUp) caughtUpNow();
        if (caughtUp && state.locale && follow(state.locale)) return;
        if (caughtUp) wait = WAIT;
        failures = 0;
        problems.poll = '';
      } catch (e) {
        drawn = told.concat(drawn); if (gen !== generation) return;  // told again next time
        problems.poll = 'connecting';
        showStatus();
        await sleep(backoff(++failures));
      } finally {
        clearTimeout(timer);
      }
      showStatus();
    }
  }

  // A new conversation, not a new person (`next`, on restart): the same session (the member,
  // their settings and their history stay with the bot); the page shows only what follows.
  function begin(fresh, next) {
    generation++;
    if (pollAbort) pollAbort.abort();
    state = next || (!fresh && load()) || { session: uid(), mine: [], since: 0, locale: null };
    cursor = state.since || 0; shown = 0; caughtUp = false; log.textContent = '';
    problems = { poll: 'connecting', send: '' }; showStatus(); showTyping(false);
    if (!state.mine.length) send('/start', null, true);  // the bot greets a new session
    save();
    poll(generation); flush();
  }

  // The page speaks the language the member chose: it loads itself in it (it keeps all in
  // localStorage) unless its address asks for it already (no loop) or a draft would be lost.
  function follow(locale) {
    var query = new URLSearchParams(location.search), tag = locale.replace('_', '-');
    if (tag === document.documentElement.lang || query.get('lang') === tag || input.value) return false;
    query.set('lang', tag);
    location.replace('?' + query);
    return true;
  }

  // The member was erased (so says the goodbye, or the server no longer knows the session): the
  // page forgets it all, and shows the goodbye until the next message opens a new session.
  function forget(messages) {
    try { localStorage.removeItem(KEY); } catch (e) { /* storage blocked: nothing kept */ }
    if (!messages.length) return begin(true);
    var gone = state.session; generation++; if (pollAbort) pollAbort.abort();  // gone: told the goodbye was drawn
    state = { session: uid(), mine: [], since: 0 }; cursor = 0; shown = 0; caughtUp = true;
    log.textContent = ''; afresh = true; problems = { poll: '', send: '' }; showStatus(); showTyping(false);
    messages.forEach(showBot);
    fetch(API + '?session=' + gone + '&wait=0' + named(drawn.splice(0)), { cache: 'no-store' }).catch(function () {});
  }
  function again() { if (afresh) { afresh = false; begin(true); return true; } return false; }

  function start() { if (!started) begin(false); started = true; }

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (text) send(text);
    input.value = '';
    grow();
    input.focus();
  });
  input.addEventListener('keydown', function (event) {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event('submit', { cancelable: true }));
    }
  });
  function grow() { input.style.height = 'auto'; input.style.height = Math.min(input.scrollHeight, 160) + 'px'; }
  input.addEventListener('input', grow);
  $('restart').addEventListener('click', function () {
    var next = { session: state.session, mine: [], since: cursor, locale: state.locale };
    if (!again() && window.confirm(texts.restart_confirm)) begin(false, next);
    input.focus();
  });
  ['online', 'offline'].forEach(function (name) {
    window.addEventListener(name, function () { wakers.splice(0).forEach(function (wake) { wake(); }); showStatus(); });
  });

  var kept = load();  // a member who chose a language sees the page in it from the start
  if (kept && kept.locale && follow(kept.locale)) return;
  if (embedded) {
    // In the website's panel: wait until the member opens it, so that visitors who never
    // open the chat start no conversation. The website's button borrows our translated labels.
    var close = function () { window.parent.postMessage({ childpact: 'close' }, '*'); };
    $('close').hidden = false;
    $('close').addEventListener('click', close);
    document.addEventListener('keydown', function (event) { if (event.key === 'Escape') close(); });
    window.addEventListener('message', function (event) {
      if (event.source !== window.parent || !event.data || event.data.childpact !== 'open') return;
      start();
      (matchMedia('(pointer: coarse)').matches ? scroller : input).focus();  // no surprise keyboard on phones
    });
    window.parent.postMessage({ childpact: 'ready', title: texts.title, open: texts.open, close: texts.close }, '*');
  } else {
    start();
  }
})();
