// The payment and setup form: Stripe's Payment Element, then confirmPayment / confirmSetup
// with the page itself as return_url (3-D Secure and bank redirects come back to it), or
// handleNextAction when the bank still asks for a confirmation. Card data goes to Stripe only.
(function () {
  "use strict";
  var form = document.getElementById("checkout");
  if (!form) {
    return;
  }
  var button = document.getElementById("checkout-submit");
  var message = document.getElementById("checkout-message");
  var mode = form.dataset.mode;

  function show(text) {
    message.textContent = text || "";
    message.hidden = !text;
  }

  function clientSecret() {
    return fetch(form.dataset.secretUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": form.dataset.csrf }
    }).then(function (answer) {
      if (!answer.ok) {
        throw new Error("This page has expired: reload it from your link.");
      }
      return answer.json();
    }).then(function (body) {
      return body.client_secret;
    });
  }

  var stripe = Stripe(form.dataset.publishableKey);
  clientSecret().then(function (secret) {
    var elements = null;
    if (mode !== "action") {
      elements = stripe.elements({
        clientSecret: secret,
        appearance: JSON.parse(form.dataset.appearance)
      });
      var payment = elements.create("payment", { layout: "tabs" });
      payment.on("ready", function () {
        button.disabled = false;
      });
      payment.mount("#payment-element");
    } else {
      button.disabled = false;
    }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      button.disabled = true;
      show("");
      var done;
      if (mode === "action") {
        done = stripe.handleNextAction({ clientSecret: secret });
      } else {
        var confirm = mode === "setup" ? stripe.confirmSetup : stripe.confirmPayment;
        done = confirm.call(stripe, {
          elements: elements,
          confirmParams: { return_url: form.dataset.returnUrl }
        });
      }
      done.then(function (result) {
        if (result && result.error) {
          show(result.error.message);
          button.disabled = false;
        } else {
          window.location.reload();
        }
      }, function () {
        show("Something went wrong. Reload the page and try again.");
        button.disabled = false;
      });
    });
  }, function (error) {
    show(error.message);
  });
})();
