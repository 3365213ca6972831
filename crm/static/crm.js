// Contact form: B2C disables the account field (the person's name becomes a hidden
// account); choosing an account switches to B2B.
(function () {
  function kindRadios() { return document.querySelectorAll('input[name="kind"]'); }
  function account() { return document.getElementById('account'); }
  function currentKind() {
    var checked = document.querySelector('input[name="kind"]:checked');
    return checked ? checked.value : 'b2c';
  }
  function sync() {
    var field = account();
    if (!field) { return; }
    var b2c = currentKind() === 'b2c';
    field.disabled = b2c;
    var group = field.closest('.form-group');
    if (group) { group.classList.toggle('text-muted', b2c); }
    var primary = document.getElementById('is_primary');
    if (primary && b2c) { primary.checked = true; }
  }
  document.addEventListener('DOMContentLoaded', function () {
    kindRadios().forEach(function (radio) { radio.addEventListener('change', sync); });
    sync();
  });
})();
