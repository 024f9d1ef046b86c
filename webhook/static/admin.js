/* The dashboard's only script of its own: times in the reader's own time zone and language.
   Pages work without it; htmx (beside it) refreshes the inbox. */
(function () {
  "use strict";
  var lang = document.documentElement.lang || "en";
  var format;
  try {
    format = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" });
  } catch (e) {
    return;
  }
  function localise(root) {
    var times = (root || document).querySelectorAll("time[datetime]");
    for (var i = 0; i < times.length; i++) {
      var value = times[i].getAttribute("datetime");
      if (value.length < 11) continue; /* a date alone stays as the server wrote it */
      var at = new Date(value);
      if (!isNaN(at)) {
        times[i].title = times[i].textContent;
        times[i].textContent = format.format(at);
      }
    }
  }
  document.addEventListener("DOMContentLoaded", function () { localise(document); });
  document.addEventListener("htmx:afterSwap", function (event) { localise(event.target.parentNode || document); });
})();
/* Saved replies: choosing one puts its text into the answer box; in an answer box, Alt and a
   number (1 to 9) inserts that saved reply at the cursor. */
(function () {
  "use strict";
  function insert(box, text) {
    if (!box || !text) return;
    var start = box.selectionStart || 0, end = box.selectionEnd || 0;
    box.value = box.value.slice(0, start) + text + box.value.slice(end);
    box.selectionStart = box.selectionEnd = start + text.length;
    box.focus();
  }
  document.addEventListener("change", function (event) {
    var picker = event.target;
    if (!picker.classList || !picker.classList.contains("saved-reply")) return;
    insert(document.getElementById(picker.getAttribute("data-target")), picker.value);
    picker.value = "";
  });
  document.addEventListener("keydown", function (event) {
    var box = event.target;
    if (!event.altKey || !box.id || box.tagName !== "TEXTAREA") return;
    // The key's place, not its character: on a Mac, Option+1 types "¡".
    var digit = /^(?:Digit|Numpad)([1-9])$/.exec(event.code || "");
    var n = digit ? parseInt(digit[1], 10) : parseInt(event.key, 10);
    var picker = document.querySelector('select.saved-reply[data-target="' + box.id + '"]');
    if (!picker || isNaN(n) || n < 1 || n >= picker.options.length) return;
    event.preventDefault();
    insert(box, picker.options[n].value);
  });
})();
/* Enter in a field with data-enter presses the button of its form with that action (the
   audience's name saves the audience), not the form's default one. */
document.addEventListener("keydown", function (event) {
  "use strict";
  var field = event.target;
  var action = field.getAttribute && field.getAttribute("data-enter");
  if (event.key !== "Enter" || !action || !field.form) return;
  var button = field.form.querySelector('button[name="action"][value="' + action + '"]:not([aria-hidden])');
  if (!button) return;
  event.preventDefault();
  button.click();
});
