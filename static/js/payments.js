// The pay page of a deposit (templates/dashboard/deposit_pay.html), under a strict CSP:
// - a link to the gateway's page (data-auto-follow) is followed, a form to the gateway marked
//   data-auto-submit is posted at once (the link or button stays as a fallback);
// - a client checkout (Razorpay Checkout) is opened with the options the server rendered as JSON;
// - while the customer pays to an address or in the gateway's window, the deposit's state is polled
//   and the page moves on to the return page (which asks the gateway itself) once it changes.
(function () {
  var pay = document.getElementById("pay");
  if (!pay) return;
  var returnUrl = pay.dataset.returnUrl;

  var link = document.querySelector("a[data-auto-follow]");
  if (link) {
    // A plain navigation, not a form submission: the gateway's page needs no form-action entry.
    window.location.replace(link.href);
    return;
  }

  var form = document.querySelector("form[data-auto-submit]");
  if (form) {
    form.submit();
    return;
  }

  var optionsNode = document.getElementById("checkout-options");
  var opener = document.getElementById("client-checkout-open");
  if (optionsNode && opener) {
    var open = function () {
      if (typeof window.Razorpay !== "function") return;
      var options = JSON.parse(optionsNode.textContent);
      options.handler = function () { window.location.href = returnUrl; };
      options.modal = Object.assign({}, options.modal || {}, {
        ondismiss: function () { window.location.href = returnUrl + "?cancelled=1"; }
      });
      new window.Razorpay(options).open();
    };
    opener.addEventListener("click", open);
    open();
  }

  var statusUrl = pay.dataset.statusUrl;
  if (!statusUrl || !document.getElementById("pay-waiting")) return;
  var poll = function () {
    fetch(statusUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (state) {
        if (state && !state.open) window.location.href = returnUrl;
        else setTimeout(poll, 5000);
      })
      .catch(function () { setTimeout(poll, 10000); });
  };
  setTimeout(poll, 5000);
})();
