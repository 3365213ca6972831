// Campaign pages: merge-field buttons insert at the cursor; a campaign being sent follows
// its progress without a reload; buttons marked data-confirm ask first.
(function () {
  "use strict";
  var body = document.getElementById("body_text");
  var subject = document.getElementById("subject");
  var lastFocused = body;
  [body, subject].forEach(function (field) {
    if (field) field.addEventListener("focus", function () { lastFocused = field; });
  });
  document.querySelectorAll(".merge-field").forEach(function (button) {
    button.addEventListener("click", function () {
      var field = lastFocused || body;
      if (!field) return;
      var tag = "{{ " + button.dataset.field + " }}";
      var start = field.selectionStart || 0, end = field.selectionEnd || 0;
      field.value = field.value.slice(0, start) + tag + field.value.slice(end);
      field.focus();
      field.selectionStart = field.selectionEnd = start + tag.length;
    });
  });

  var progress = document.getElementById("campaign-progress");
  if (progress && progress.dataset.follow === "1") {
    var url = progress.dataset.url;
    var shownStatus = progress.dataset.status;
    var timer = setInterval(function () {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (!data) return;
          var bar = progress.querySelector(".progress-bar");
          bar.style.width = data.progress + "%";
          bar.setAttribute("aria-valuenow", data.progress);
          bar.textContent = data.progress + "%";
          Object.keys(data.counts).forEach(function (key) {
            var cell = document.getElementById("count-" + key);
            if (cell) cell.textContent = data.counts[key].toLocaleString("en");
          });
          var words = document.getElementById("campaign-status-text");
          if (words) words.textContent = data.status_detail;
          if (data.status !== shownStatus) {
            clearInterval(timer);
            window.location.reload();
          }
        })
        .catch(function () { /* the next tick tries again */ });
    }, 2000);
  }
})();
