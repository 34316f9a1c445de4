// Small helpers: disable a submit button once pressed, copy to clipboard, close toasts.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (form.dataset.once === undefined) return;
  form.querySelectorAll("button[type=submit]").forEach(function (button) {
    setTimeout(function () { button.disabled = true; button.classList.add("busy"); }, 0);
  });
});
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button) return;
  var target = document.querySelector(button.dataset.copy);
  if (!target) return;
  navigator.clipboard.writeText(target.value || target.textContent.trim()).then(function () {
    var label = button.textContent;
    button.textContent = button.dataset.copied || "Copied";
    setTimeout(function () { button.textContent = label; }, 1500);
  });
});
document.addEventListener("htmx:afterSwap", function () {
  document.querySelectorAll("#toasts .toast").forEach(function (toast) {
    if (toast.dataset.timer) return;
    toast.dataset.timer = "1";
    setTimeout(function () { toast.remove(); }, 4000);
  });
});
document.addEventListener("change", function (event) {
  if (event.target.matches("[data-toggle]")) {
    var panel = document.querySelector(event.target.dataset.toggle);
    if (panel) panel.hidden = !event.target.checked;
  }
});
// Forms that ask before they submit: <form data-confirm="...">.
document.addEventListener("submit", function (event) {
  var question = event.target.dataset.confirm;
  if (question && !window.confirm(question)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);
// Read-only fields whose whole value is selected by a click (a new API key, a referral link).
document.addEventListener("click", function (event) {
  if (event.target.matches("input[data-select-on-click]")) event.target.select();
});
// The language picker (and any select marked data-autosubmit) sends its form on change; its
// button stays for browsers without script.
document.documentElement.classList.add("js");
document.addEventListener("change", function (event) {
  if (event.target.matches("select[data-autosubmit]")) event.target.form.submit();
});
