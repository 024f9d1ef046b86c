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
