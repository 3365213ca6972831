// Quick create: the short new-contact dialog (templates/admin/quick_create.html), saved by
// /admin/contact/quick/ (crm/admin/contacts/quick.py) through the contact rules the full form
// uses. It opens from:
// - the contact list's "Quick create" button: once saved, the list reloads with a message
//   naming the new contact (a link to its card) and the new contact's row marked;
// - every contact picker on the page (the dialog's data-pickers names them): the last entry
//   of the picker's results is "+ New contact", chosen with the keyboard or a tap like any
//   result. The dialog opens with what was typed in the picker (a name split into first
//   and last name, an email or a phone number); once saved the new contact is chosen in
//   that picker (added to those already chosen in a multi-value one), and the form around
//   it is neither sent nor lost.
// Errors come back as JSON: each message under its field, a look-alike warning with the
// matching contacts and "Save anyway"; what was typed stays.
(function () {
  var $ = window.jQuery;
  var dialog = document.getElementById('quick-create');
  if (!dialog || !$ || !$.fn.select2) { return; }
  var form = null, account, errorBox, duplicatesBox, fullForm;  // built on first opening
  var NEW = '__quick_create__';
  var FIELDS = ['first_name', 'last_name', 'email', 'phone', 'account'];
  var pickers = (dialog.dataset.pickers || '').split(/\s+/).filter(Boolean);
  var target = null;  // the picker the dialog was opened from (null: the list's button)
  var saving = false;

  function field(name) { return form.querySelector('[data-field="' + name + '"]'); }

  // ---- the pickers' "+ New contact" entry ---------------------------------------------
  function isContactPicker(element) {
    return element.getAttribute('data-role') === 'select2-ajax' && element.form !== form &&
      pickers.indexOf(element.name) >= 0;
  }
  function entryText(term) {
    return term ? '+ New contact "' + term + '"…' : '+ New contact…';
  }
  function keepEntryLast(s2) {
    // Scrolling loads more results below the first page's: the entry moves after them.
    var entry = s2.results.children('li').filter(function () {
      var data = $(this).data('select2-data');
      return data && data.id === NEW;
    });
    var more = s2.results.children('.select2-more-results');
    if (more.length) { entry.insertBefore(more); } else { entry.appendTo(s2.results); }
  }
  function addEntry(s2) {
    if (!s2 || s2.crmQuickCreate) { return; }
    s2.crmQuickCreate = true;
    var css = s2.opts.formatResultCssClass;
    s2.opts.formatResultCssClass = function (data) {
      var own = css ? css.apply(this, arguments) : '';
      return data.id === NEW ? 'quick-create-entry ' + (own || '') : own;
    };
    var query = s2.opts.query;
    s2.opts.query = function (request) {
      var callback = request.callback;
      request.callback = function (data) {
        if (request.page === 1) {
          data.results = data.results.concat([
            {id: NEW, text: entryText(request.term), quickCreateTerm: request.term}
          ]);
        }
        callback(data);
        if (request.page > 1) { keepEntryLast(s2); }
      };
      return query.call(this, request);
    };
  }
  $(document).on('select2-opening', 'input[data-role="select2-ajax"]', function () {
    if (isContactPicker(this)) { addEntry($(this).data('select2')); }
  });
  $(document).on('select2-selecting', 'input[data-role="select2-ajax"]', function (event) {
    if (event.val !== NEW || !isContactPicker(this)) { return; }
    event.preventDefault();  // not a value: the picker keeps what it holds
    var picker = this;
    var term = (event.object && event.object.quickCreateTerm) || '';
    $(picker).select2('close');
    window.setTimeout(function () { open(picker, term); }, 0);
  });

  function choose(picker, contact) {
    var chosen = {id: String(contact.id), text: contact.label};
    var $picker = $(picker);
    if (picker.getAttribute('data-multiple') === '1') {
      var values = ($picker.select2('data') || []).filter(function (item) {
        return String(item.id) !== chosen.id;
      });
      values.push(chosen);
      $picker.select2('data', values, true);
    } else {
      $picker.select2('data', chosen, true);
    }
  }

  // ---- the dialog's account picker ----------------------------------------------------
  // select2 3.x puts its dropdown at the end of <body>, under a modal dialog (the top
  // layer): this one's goes inside the dialog, placed by the viewport (position: fixed).
  function accountPicker() {
    var $account = $(account);
    if ($account.data('select2')) { return; }
    $account.select2({
      width: '100%',
      minimumInputLength: 1,
      placeholder: account.dataset.placeholder,
      allowClear: true,
      ajax: {
        url: dialog.dataset.accounts,
        data: function (term, page) { return {query: term, offset: (page - 1) * 10, limit: 10}; },
        results: function (data) {
          var results = data.map(function (row) { return {id: row[0], text: row[1]}; });
          return {results: results, more: results.length === 10};
        }
      }
    });
    var s2 = $account.data('select2');
    s2.body = $(dialog);
    s2.positionDropdown = function () {
      var box = this.container[0].getBoundingClientRect();
      var below = window.innerHeight - box.bottom;
      var height = this.dropdown.outerHeight(false);
      var css = {position: 'fixed', left: box.left, width: box.width, bottom: 'auto'};
      css.top = (below < height && box.top > height) ? box.top - height : box.bottom;
      this.dropdown.css(css);
    };
    $account.on('select2-open', function () {
      $('#select2-drop-mask').appendTo(dialog);  // a click beside the list closes it
    }).on('select2-close', function () {
      $('#select2-drop-mask').appendTo(document.body);
    }).on('change', function () { clearError('account'); });
  }

  // ---- opening, filling in, closing ---------------------------------------------------
  function prefill(term) {
    term = (term || '').trim();
    if (!term) { return; }
    if (/^\S+@\S*$/.test(term)) {
      field('email').value = term;
    } else if (/^\+?[\d][\d\s().\/-]{3,}$/.test(term)) {
      field('phone').value = term;
    } else {
      var words = term.split(/\s+/);
      field('first_name').value = words.shift();
      field('last_name').value = words.join(' ');
    }
  }
  function open(picker, term) {
    build();
    target = picker || null;
    form.reset();
    accountPicker();
    $(account).select2('data', null);
    clearMessages();
    prefill(term);
    fullForm.target = target ? '_blank' : '';
    fullForm.rel = target ? 'noopener' : '';
    dialog.showModal();
    var first = ['first_name', 'last_name', 'email'].map(field).filter(function (input) {
      return !input.value;
    })[0];
    (first || field('first_name')).focus();
  }
  function close() {
    $(account).select2('close');
    if (dialog.open) { dialog.close(); }
  }
  // ---- saving -------------------------------------------------------------------------
  function clearError(name) {
    var slot = form.querySelector('[data-error-for="' + name + '"]');
    if (slot) { slot.textContent = ''; slot.classList.remove('d-block'); }
    var input = field(name);
    if (input) {
      input.classList.remove('is-invalid');
      input.removeAttribute('aria-invalid');
    }
    if (name === 'account') { $('#s2id_qc-account').removeClass('is-invalid'); }
  }
  function clearMessages() {
    FIELDS.forEach(clearError);
    errorBox.hidden = true;
    errorBox.textContent = '';
    duplicatesBox.hidden = true;
  }
  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
    errorBox.scrollIntoView({block: 'nearest'});
  }
  function showFieldErrors(message, fields) {
    var general = [];
    var firstInvalid = null;
    Object.keys(fields).forEach(function (name) {
      var text = fields[name].join(' ');
      var slot = form.querySelector('[data-error-for="' + name + '"]');
      if (!slot) { general.push(text); return; }
      slot.id = 'qc-' + name + '-error';
      slot.textContent = text;
      slot.classList.add('d-block');
      var input = field(name);
      input.classList.add('is-invalid');
      input.setAttribute('aria-invalid', 'true');
      input.setAttribute('aria-describedby', slot.id);
      if (name === 'account') { $('#s2id_qc-account').addClass('is-invalid'); }
      if (!firstInvalid) { firstInvalid = name === 'account' ? null : input; }
    });
    showError([message].concat(general).join(' '));
    if (firstInvalid) { firstInvalid.focus(); }
  }
  function showDuplicates(matches) {
    var list = document.getElementById('quick-create-matches');
    list.textContent = '';
    matches.forEach(function (match) {
      var item = document.createElement('li');
      var link = document.createElement('a');
      link.href = match.url;
      link.target = '_blank';
      link.rel = 'noopener';
      link.className = 'alert-link';
      link.textContent = match.name;
      item.appendChild(link);
      var about = [match.account, match.email].filter(Boolean).join(', ');
      var why = (about ? ' (' + about + ')' : '') + ': ' + match.reasons.join('; ');
      item.appendChild(document.createTextNode(why));
      list.appendChild(item);
    });
    duplicatesBox.hidden = false;
    document.getElementById('quick-create-save-anyway').focus();
  }
  function saved(contact) {
    if (target) {
      choose(target, contact);
      close();
    } else {
      window.location.reload();  // the list, as it was, with the message about it
    }
  }
  function answer(status, json) {
    if (status === 201 && json) { saved(json); return; }
    if (!json) {
      showError('Your session has ended: sign in again (in another tab), then choose Save.');
    } else if (json.duplicates) {
      showDuplicates(json.duplicates);
    } else if (json.fields) {
      showFieldErrors(json.error, json.fields);
    } else {
      showError(json.error || 'The contact was not saved.');
    }
  }
  function save(anyway) {
    if (saving) { return; }
    saving = true;
    clearMessages();
    var body = new FormData();
    body.append('csrf_token', dialog.dataset.csrf);
    FIELDS.forEach(function (name) { body.append(name, field(name).value); });
    if (anyway) { body.append('save_anyway', '1'); }
    if (!target) { body.append('announce', '1'); }
    form.setAttribute('aria-busy', 'true');
    fetch(dialog.dataset.url, {
      method: 'POST',
      body: body,
      credentials: 'same-origin',
      headers: {Accept: 'application/json'}
    }).then(function (response) {
      var json = (response.headers.get('Content-Type') || '').indexOf('application/json') === 0;
      return (json ? response.json() : Promise.resolve(null)).then(function (data) {
        answer(response.status, data);
      });
    }).catch(function () {
      showError('The contact was not saved: the server could not be reached. Try again.');
    }).then(function () {
      saving = false;
      form.removeAttribute('aria-busy');
    });
  }
  // The dialog's form, from its <template>, with its handlers (once).
  function build() {
    if (form) { return; }
    dialog.appendChild(document.getElementById('quick-create-template').content.cloneNode(true));
    form = document.getElementById('quick-create-form');
    account = document.getElementById('qc-account');
    errorBox = document.getElementById('quick-create-error');
    duplicatesBox = document.getElementById('quick-create-duplicates');
    fullForm = document.getElementById('quick-create-full-form');
    dialog.addEventListener('close', function () {
      if (target) { $(target).select2('focus'); }
    });
    document.getElementById('quick-create-cancel').addEventListener('click', close);
    document.getElementById('quick-create-close').addEventListener('click', close);

    // "Full form": the new-contact page with what is typed so far (a new tab from a picker,
    // so that the form holding the picker stays as it is).
    fullForm.addEventListener('click', function () {
      var params = new URLSearchParams();
      FIELDS.forEach(function (name) {
        var value = (field(name).value || '').trim();
        if (value) { params.set(name, value); }
      });
      var query = params.toString();
      fullForm.href = dialog.dataset.fullForm + (query ? '?' + query : '');
    });

    form.addEventListener('submit', function (event) {
      event.preventDefault();
      save(false);
    });
    document.getElementById('quick-create-save-anyway').addEventListener('click', function () {
      save(true);
    });
    form.addEventListener('input', function (event) {
      if (event.target.dataset.field) { clearError(event.target.dataset.field); }
    });
  }
  document.querySelectorAll('[data-quick-create]').forEach(function (button) {
    button.addEventListener('click', function () { open(null, ''); });
  });

  // ---- back on the list after a save: the new contact's row is marked ----------------
  var created = document.querySelector('[data-quick-created]');
  if (created) {
    var id = created.getAttribute('data-quick-created');
    var box = document.querySelector('input.action-checkbox[value="' + id + '"]');
    var row = box ? box.closest('tr') : null;
    if (row) {
      row.classList.add('table-success', 'quick-created');
      row.scrollIntoView({block: 'nearest'});
    } else {
      // Not on this page of the list (another sort, tab or filter): a search finds it.
      var find = document.createElement('a');
      find.className = 'alert-link ml-2';
      find.id = 'quick-created-find';
      find.href = dialog.dataset.contacts + '?' +
        new URLSearchParams({search: created.getAttribute('data-name') || ''}).toString();
      find.textContent = 'Show it in the list';
      created.insertAdjacentElement('afterend', find);
    }
  }
})();
