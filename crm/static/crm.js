// Contact form behaviour.
// - B2C disables the account field (the person's name becomes a hidden personal account on
//   save); B2B enables it. A disabled field is not posted, so a B2C contact never sends an
//   account chosen before switching. B2C also ticks and locks "Primary contact".
// - A collapsed section holding a field with an error opens, so the error is seen.
(function () {
  function account() { return document.getElementById('account'); }
  function currentKind() {
    var checked = document.querySelector('input[name="kind"]:checked');
    return checked ? checked.value : 'b2c';
  }
  function setSelect2Enabled(field, enabled) {
    // select2 3.x mirrors the `disabled` property of its element through a
    // MutationObserver; tell it directly as well, so the widget never lags behind.
    var $ = window.jQuery;
    if ($ && $(field).data('select2')) { $(field).select2('enable', enabled); }
  }
  function sync() {
    var field = account();
    // Only the contact form chooses B2B or B2C; other forms' account (a deal's, a task's)
    // is always theirs to choose.
    if (!field || !document.querySelector('input[name="kind"]')) { return; }
    var b2c = currentKind() === 'b2c';
    field.disabled = b2c;
    setSelect2Enabled(field, !b2c);
    var group = field.closest('.form-group');
    if (group) { group.classList.toggle('text-muted', b2c); }
    syncPrimary(b2c);
  }
  function syncPrimary(b2c) {
    // A B2C contact is always the primary contact of their personal account (the server
    // sets it), so the box is ticked and locked. Back on B2B it shows the user's own choice
    // again, never the ticked state B2C forced: a new B2B contact saved as primary would
    // take the flag from the company's primary contact.
    var primary = document.getElementById('is_primary');
    if (!primary) { return; }
    if (!('crmChosen' in primary.dataset)) {
      primary.dataset.crmChosen = (!b2c && primary.checked) ? '1' : '0';
      primary.addEventListener('change', function () {
        primary.dataset.crmChosen = primary.checked ? '1' : '0';
      });
    }
    primary.disabled = b2c;
    primary.checked = b2c || primary.dataset.crmChosen === '1';
  }
  function openSectionsWithErrors() {
    document.querySelectorAll('.crm-section .collapse:not(.show)').forEach(function (body) {
      if (!body.querySelector('.is-invalid, .invalid-feedback, .input-errors')) { return; }
      body.classList.add('show');
      var toggle = document.querySelector('[aria-controls="' + body.id + '"]');
      if (toggle) { toggle.setAttribute('aria-expanded', 'true'); }
    });
  }
  document.addEventListener('DOMContentLoaded', function () {
    document.querySelectorAll('input[name="kind"]').forEach(function (radio) {
      radio.addEventListener('change', sync);
    });
    sync();
    openSectionsWithErrors();
    // Flask-Admin starts select2 from jQuery's ready handler, which may run after this
    // one: sync again once it has.
    if (window.jQuery) { window.jQuery(sync); }
  });
})();

// Bulk-action page: show only the parameters the chosen actions need.
(function () {
  function sync() {
    var wanted = {};
    document.querySelectorAll('#bulk-form input[name="operation"]:checked').forEach(function (box) {
      wanted[box.getAttribute('data-param')] = true;
    });
    document.querySelectorAll('#bulk-form [data-bulk-param]').forEach(function (group) {
      group.style.display = wanted[group.getAttribute('data-bulk-param')] ? '' : 'none';
    });
  }
  document.addEventListener('DOMContentLoaded', function () {
    var boxes = document.querySelectorAll('#bulk-form input[name="operation"]');
    boxes.forEach(function (box) { box.addEventListener('change', sync); });
    if (boxes.length) { sync(); }
  });
})();

// Jobs (imports, exports): while one runs, its card polls the job's status, moves the
// progress bar and fills each element marked data-field="<name>" with that field of the
// status; when it ends the page reloads (to show the rows in error, the buttons, the file).
(function () {
  function poll(card) {
    fetch(card.dataset.statusUrl, {credentials: 'same-origin'})
      .then(function (response) { return response.json(); })
      .then(function (job) {
        var bar = card.querySelector('.progress-bar');
        bar.style.width = job.progress + '%';
        bar.setAttribute('aria-valuenow', job.progress);
        bar.textContent = job.progress + '%';
        card.querySelectorAll('[data-field]').forEach(function (element) {
          element.textContent = job[element.dataset.field];
        });
        if (job.status === 'queued' || job.status === 'running') {
          setTimeout(function () { poll(card); }, 700);
        } else if (card.dataset.state !== job.status) {
          window.location.reload();
        }
      })
      .catch(function () { setTimeout(function () { poll(card); }, 2000); });
  }
  document.addEventListener('DOMContentLoaded', function () {
    document.querySelectorAll('.import-progress, .export-progress').forEach(function (card) {
      if (card.dataset.state === 'queued' || card.dataset.state === 'running') { poll(card); }
    });
  });
})();

// SMS compose page: the characters, the SMS and their size while typing, counted as the server does
// (crm.services.sms.count_segments; the GSM-7 alphabet comes from the page).
(function () {
  document.addEventListener('DOMContentLoaded', function () {
    var count = document.getElementById('sms-count');
    var body = document.querySelector('#sms-form textarea[name="body"]');
    if (!count || !body) { return; }
    var basic = count.dataset.gsmBasic + '\n', extended = count.dataset.gsmExtended;
    function update() {
      var chars = Array.from(body.value);
      var gsm = chars.every(function (ch) {
        return basic.indexOf(ch) >= 0 || extended.indexOf(ch) >= 0;
      });
      var units = gsm ? chars.reduce(function (n, ch) {
        return n + (extended.indexOf(ch) >= 0 ? 2 : 1);
      }, 0) : body.value.length;
      var single = gsm ? 160 : 70, part = gsm ? 153 : 67;
      var segments = units === 0 ? 0 : (units <= single ? 1 : Math.ceil(units / part));
      document.getElementById('sms-characters').textContent = chars.length;
      document.getElementById('sms-segments').textContent = segments;
      document.getElementById('sms-size').textContent = segments <= 1 ? single : part;
      document.getElementById('sms-special').hidden = gsm;
    }
    body.addEventListener('input', update);
    update();
  });
})();

// The contact card: the tab named in the address (#tab-notes) opens; the activity feed
// asks every few seconds for comments posted since the newest it shows, and adds them at
// the top as text (never as HTML).
(function () {
  var $ = window.jQuery;
  var tabs = document.getElementById('contact-tabs');
  if ($ && tabs && location.hash.indexOf('#tab-') === 0) {
    // Only while the tab the server opened is still the one shown: a tab clicked before
    // this script ran (the page was still loading) is the user's choice and stays.
    var shown = tabs.querySelector('a.active');
    if (!shown || shown.getAttribute('href') === '#tab-' + tabs.dataset.openedTab) {
      $('#contact-tabs a[href="' + location.hash + '"]').tab('show');
    }
  }
  var feed = document.getElementById('activity-feed');
  if (!feed || !window.fetch) { return; }
  function item(comment) {
    var li = document.createElement('li');
    li.className = 'list-group-item feed-comment feed-new';
    li.dataset.commentId = comment.id;
    var when = document.createElement('small');
    when.className = 'text-muted';
    when.textContent = comment.at + ' ';
    var who = document.createElement('b');
    who.textContent = comment.author;
    var text = document.createElement('div');
    text.className = 'feed-text';
    text.textContent = comment.body;
    li.appendChild(when); li.appendChild(who);
    li.appendChild(document.createTextNode(' commented'));
    li.appendChild(text);
    return li;
  }
  function poll() {
    if (document.hidden) { return; }
    var after = feed.dataset.lastComment || '0';
    fetch(feed.dataset.pollUrl + '?after=' + encodeURIComponent(after),
          {credentials: 'same-origin', headers: {'Accept': 'application/json'}})
      .then(function (r) { return r.ok ? r.json() : {comments: []}; })
      .then(function (data) {
        (data.comments || []).forEach(function (comment) {
          if (feed.querySelector('[data-comment-id="' + comment.id + '"]')) { return; }
          var empty = document.getElementById('feed-empty');
          if (empty) { empty.remove(); }
          feed.insertBefore(item(comment), feed.firstChild);
          feed.dataset.lastComment = comment.id;
        });
      })
      .catch(function () {});
  }
  window.setInterval(poll, parseInt(feed.dataset.pollSeconds || '4', 10) * 1000);
})();

// Forms marked data-confirm="question" (deleting a file, removing a picture) ask first.
document.addEventListener('submit', function (event) {
  var form = event.target;
  if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});

// Enter in a picker (select2's search box, a tag being typed) chooses or adds the value;
// it never sends the form around it, half filled in. Flask-Admin's tag fields submit their
// form on Enter's keyup, and an empty picker would let the browser submit on its keydown:
// both are stopped here, before the field's own handlers (select2's still get the keydown).
(function () {
  var PICKER = '.select2-input, .select2-focusser';
  function isPicker(target) { return target && target.matches && target.matches(PICKER); }
  window.addEventListener('keydown', function (event) {
    if (event.key === 'Enter' && isPicker(event.target)) { event.preventDefault(); }
  }, true);
  window.addEventListener('keyup', function (event) {
    if (event.key === 'Enter' && isPicker(event.target)) { event.stopPropagation(); }
  }, true);
})();

// Keyboard shortcuts for signed-in pages (help: "?"): "/" searches, "n" opens a new contact,
// "e" edits the contact on screen. Never while typing in a field, nor with Ctrl, Alt or Cmd.
(function () {
  var help = document.getElementById('crm-shortcuts');
  if (!help) { return; }
  function typing(target) {
    return target && (target.isContentEditable ||
      /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }
  document.addEventListener('keydown', function (event) {
    if (event.ctrlKey || event.altKey || event.metaKey || typing(event.target)) { return; }
    if (help.open && event.key !== '?') { return; }
    if (event.key === '/') {
      var search = document.querySelector('input[name="search"]');
      event.preventDefault();
      if (search) { search.focus(); search.select(); } else { window.location = help.dataset.contacts + '?focus=search'; }
    } else if (event.key === 'n') {
      window.location = help.dataset.newContact;
    } else if (event.key === 'e') {
      var edit = document.getElementById('action-edit');
      if (edit) { edit.click(); }
    } else if (event.key === '?') {
      event.preventDefault();
      if (help.open) { help.close(); } else { help.showModal(); }
    }
  });
  // Sent here by "/" from another page: the search box is ready to type in.
  if (/[?&]focus=search(&|$)/.test(window.location.search)) {
    var box = document.querySelector('input[name="search"]');
    if (box) { box.focus(); }
  }
})();
