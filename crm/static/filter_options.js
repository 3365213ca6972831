// The filter menu's long option lists (the countries), loaded when their filter is chosen.
// The list page's filter data (#filter-groups-data, read by Flask-Admin's bs4_filters.js)
// names an `options_url` for such a filter instead of carrying its options on every page,
// so Flask-Admin first draws a text box for it; this turns that box into the usual select2
// menu of the options, keeping the value it holds (an active filter's). If the options
// cannot be loaded, the box stays: a country's code typed there (DE) filters as well.
// Loaded after bs4_filters.js (templates/admin/contact_list.html).
(function ($) {
  var data = document.getElementById('filter-groups-data');
  var form = document.getElementById('filter_form');
  if (!$ || !data || !form) { return; }
  var urls = {};  // filter argument (country_is) -> where its options are
  $.each(JSON.parse(data.textContent), function (name, subfilters) {
    $.each(subfilters, function (i, sub) { if (sub.options_url) { urls[sub.arg] = sub.options_url; } });
  });
  var loaded = {};  // url -> a promise of its options
  function options(url) {
    if (!loaded[url]) {
      loaded[url] = fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
        .then(function (response) {
          if (!response.ok) { throw new Error(response.status); }
          return response.json();
        });
      loaded[url].catch(function () { delete loaded[url]; });  // a later choice tries again
    }
    return loaded[url];
  }
  function upgrade(input) {
    var match = /^flt\d+_(.+)$/.exec(input.name || '');
    if (input.tagName !== 'INPUT' || !match || !urls[match[1]] || input.dataset.crmOptions) { return; }
    input.dataset.crmOptions = 'loading';
    options(urls[match[1]]).then(function (choices) {
      if (!input.isConnected) { return; }
      var select = document.createElement('select');
      select.className = 'filter-val';
      select.name = input.name;
      choices.forEach(function (choice) {
        select.add(new Option(choice[1], choice[0], false, choice[0] === input.value));
      });
      input.replaceWith(select);
      window.faForm.applyStyle($(select), 'select2');
      $(select).on('change', function () { $('button', form).removeClass('d-none'); });
    }, function () { delete input.dataset.crmOptions; });  // the text box stays: type a code
  }
  function upgradeAll() { form.querySelectorAll('input.filter-val').forEach(upgrade); }
  upgradeAll();  // the active filters, drawn by filters.js already
  new MutationObserver(upgradeAll).observe(form, { childList: true, subtree: true });
})(window.jQuery);
