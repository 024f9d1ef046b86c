/* ChildPact's web chat on any website, in one line placed before </body>:

     <script src="https://HOST/chat/embed.js" defer></script>

   It adds a round button in the bottom corner that opens the chat in a panel: an iframe of
   https://HOST/chat?embed=1&lang=<the page's <html lang>> (HOST is taken from this script's
   own address). On phones the panel fills the screen.
   Option on the script tag:  data-lang="ro"  when the page's <html lang> is not the language
   the chat should speak.
   The button appears once the chat page has loaded (so never when the chat is unreachable)
   and takes its translated labels from it; no conversation starts until a visitor opens the
   panel. Escape or the panel's close button closes it. */
(function () {
  'use strict';
  var script = document.currentScript;
  if (!script || window.childpactChat) return;
  window.childpactChat = true;
  var chat = new URL('./', script.src).href.replace(/\/$/, '');  // https://HOST/chat
  var origin = new URL(chat).origin;
  var lang = script.getAttribute('data-lang') || document.documentElement.lang || '';
  var icons = {
    open: '<path fill="currentColor" d="M12 3C6.5 3 2 6.9 2 11.7c0 2.4 1.1 4.6 3 6.2L4 21.6l4.6-2.2c1.1.3 2.2.5 3.4.5 5.5 0 10-3.9 10-8.7S17.5 3 12 3z"/>',
    close: '<path fill="none" stroke="currentColor" stroke-width="2.2" stroke-linecap="round" d="M6 6l12 12M18 6 6 18"/>'
  };
  var css = [
    ':host{position:relative;z-index:2147483000}',
    '.launcher{position:fixed;inset-block-end:20px;inset-inline-end:20px;width:60px;height:60px;',
    'border:0;border-radius:50%;padding:0;cursor:pointer;display:grid;place-items:center;',
    'background:#1d5a7a;color:#fff;box-shadow:0 4px 16px rgba(10,40,60,.32)}',
    '.launcher:hover{background:#154560}',
    '.launcher:focus-visible{outline:3px solid #f2a93b;outline-offset:3px}',
    '.launcher svg{width:28px;height:28px}',
    '.panel{position:fixed;inset-block-end:92px;inset-inline-end:20px;width:380px;',
    'height:min(640px,calc(100vh - 116px));border-radius:16px;overflow:hidden;background:#eef3f6;',
    'box-shadow:0 12px 40px rgba(10,40,60,.28)}',
    '.panel iframe{display:block;width:100%;height:100%;border:0}',
    '[hidden]{display:none!important}',
    '@media (max-width:480px){.panel{inset:0;width:100%;height:100%;border-radius:0}',
    '.open .launcher{display:none}}'
  ].join('');

  var host = document.createElement('div');
  var root = host.attachShadow({ mode: 'open' });
  root.innerHTML = '<style>' + css + '</style><div class="wrap">' +
    '<div class="panel" hidden><iframe></iframe></div>' +
    '<button type="button" class="launcher" aria-expanded="false" hidden>' +
    '<svg viewBox="0 0 24 24" aria-hidden="true" focusable="false"></svg></button></div>';
  var wrap = root.querySelector('.wrap'), panel = root.querySelector('.panel');
  var frame = root.querySelector('iframe'), launcher = root.querySelector('.launcher');
  var labels = {}, isOpen = false;

  function show(open) {
    isOpen = open;
    panel.hidden = !open;
    wrap.className = 'wrap' + (open ? ' open' : '');
    launcher.setAttribute('aria-expanded', String(open));
    launcher.setAttribute('aria-label', labels[open ? 'close' : 'open'] || '');
    launcher.title = labels[open ? 'close' : 'open'] || '';
    launcher.firstChild.innerHTML = icons[open ? 'close' : 'open'];
    if (open) {
      frame.focus();
      frame.contentWindow.postMessage({ childpact: 'open' }, origin);
    }
  }

  window.addEventListener('message', function (event) {
    if (event.source !== frame.contentWindow || event.origin !== origin || !event.data) return;
    if (event.data.childpact === 'ready') {
      labels = event.data;
      frame.title = labels.title || '';
      launcher.hidden = false;
      show(isOpen);
    } else if (event.data.childpact === 'close' && isOpen) {
      show(false);
      launcher.focus();
    }
  });
  launcher.addEventListener('click', function () { show(!isOpen); });
  document.addEventListener('keydown', function (event) {
    if (event.key === 'Escape' && isOpen) { show(false); launcher.focus(); }
  });

  function mount() {
    document.body.appendChild(host);
    frame.src = chat + '?embed=1' + (lang ? '&lang=' + encodeURIComponent(lang) : '');
  }
  // After the website itself has loaded: the chat never slows it down.
  if (document.readyState === 'complete') mount();
  else window.addEventListener('load', mount);
})();
