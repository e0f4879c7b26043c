/*
 * The Stripe stand-in's Stripe.js: a TEST DOUBLE of the part of Stripe.js that billing-ledger's
 * customer pages use (see stripe_api/fake/stripejs.py). It is not Stripe.js and never handles a
 * real card: it maps Stripe's test card numbers and test IBAN to the stand-in's test payment
 * methods and talks to the stand-in that served it.
 */
(function () {
  "use strict";

  var API = new URL(document.currentScript.src).origin;
  var CARDS = {
    "4242424242424242": "pm_card_visa",
    "5555555555554444": "pm_card_mastercard",
    "378282246310005": "pm_card_amex",
    "4000002500003155": "pm_card_authenticationRequired",
    "4000002760003184": "pm_card_authenticationRequired",
    "4000000000000002": "pm_card_chargeDeclined",
    "4000000000009995": "pm_card_chargeDeclinedInsufficientFunds"
  };
  var IBANS = { DE89370400440532013000: "pm_sepa_debit" };
  // Stripe's test bank account (routing number, account number), entered by hand.
  var ACCOUNTS = { "110000000/000123456789": "pm_usBankAccount" };
  var NEVER = new Promise(function () {});

  function target(secret) {
    var found = /^((pi|seti)_[A-Za-z0-9]+)_secret_[A-Za-z0-9]+$/.exec(secret || "");
    if (!found) {
      throw new Error("IntegrationError: invalid clientSecret");
    }
    return { id: found[1], path: found[2] === "pi" ? "payment_intents" : "setup_intents" };
  }

  function flatten(params, prefix, into) {
    Object.keys(params).forEach(function (name) {
      var key = prefix ? prefix + "[" + name + "]" : name;
      var value = params[name];
      if (value === undefined || value === null) {
        return;
      }
      if (typeof value === "object") {
        flatten(value, key, into);
      } else {
        into.append(key, String(value));
      }
    });
    return into;
  }

  function call(method, path, params) {
    var form = flatten(params, "", new URLSearchParams());
    var url = API + "/v1/" + path + (method === "GET" ? "?" + form.toString() : "");
    return fetch(url, { method: method, body: method === "GET" ? undefined : form }).then(
      function (answer) {
        return answer.json().then(function (body) {
          return { ok: answer.ok, body: body };
        });
      }
    );
  }

  function element(tag, attributes, text) {
    var made = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      made.setAttribute(name, attributes[name]);
    });
    if (text) {
      made.textContent = text;
    }
    return made;
  }

  function field(label, name, placeholder, mode) {
    var wrapper = element("label", { class: "sjs-field" });
    wrapper.appendChild(element("span", { class: "sjs-label" }, label));
    var input = element("input", {
      class: "sjs-input",
      name: name,
      placeholder: placeholder,
      autocomplete: "off",
      inputmode: mode || "text",
      "aria-label": label
    });
    wrapper.appendChild(input);
    return { wrapper: wrapper, input: input };
  }

  var COLLECTED = ["card", "ideal", "sepa_debit", "us_bank_account"];
  var LABELS = {
    card: "Card",
    ideal: "iDEAL",
    sepa_debit: "SEPA Debit",
    us_bank_account: "US bank account",
    apple_pay: "Apple Pay",
    google_pay: "Google Pay"
  };
  // A wallet hands over a card token (catalog.py of the stand-in names these two).
  var WALLETS = { apple_pay: "tok_visa_apple_pay", google_pay: "tok_visa_google_pay" };
  var BANKS = [
    ["", "Choose at your bank"],
    ["abn_amro", "ABN AMRO"],
    ["asn_bank", "ASN Bank"],
    ["ing", "ING"],
    ["rabobank", "Rabobank"],
    ["sns_bank", "SNS Bank"],
    ["triodos_bank", "Triodos Bank"]
  ];

  // Which wallets "the browser offers": Stripe.js asks the browser (Apple Pay on Safari with a
  // card in the wallet, Google Pay through the Payment Request API). A headless test browser
  // offers none, so the double reads what a test declares before the page loads:
  // `window.__stripeStandIn = { wallets: ["apple_pay", "google_pay"] }` (an init script).
  function walletsOffered() {
    var declared = (window.__stripeStandIn || {}).wallets || [];
    return Object.keys(WALLETS).filter(function (wallet) {
      return declared.indexOf(wallet) >= 0;
    });
  }

  var PANELS = {
    card: function (panel, inputs) {
      var number = field("Card number", "cardnumber", "1234 1234 1234 1234", "numeric");
      var expiry = field("Expiration", "exp-date", "MM / YY", "numeric");
      var cvc = field("CVC", "cvc", "CVC", "numeric");
      var row = element("div", { class: "sjs-row" });
      row.appendChild(expiry.wrapper);
      row.appendChild(cvc.wrapper);
      panel.appendChild(number.wrapper);
      panel.appendChild(row);
      inputs.number = number.input;
      inputs.expiry = expiry.input;
      inputs.cvc = cvc.input;
    },
    sepa_debit: function (panel, inputs) {
      var iban = field("IBAN", "iban", "DE00 0000 0000 0000 0000 00");
      panel.appendChild(iban.wrapper);
      panel.appendChild(
        element(
          "p",
          { class: "sjs-mandate" },
          "By providing your IBAN you authorise this merchant and Stripe to debit your account."
        )
      );
      inputs.iban = iban.input;
    },
    us_bank_account: function (panel, inputs) {
      var routing = field("Routing number", "routing", "110000000", "numeric");
      var account = field("Account number", "account", "000123456789", "numeric");
      panel.appendChild(routing.wrapper);
      panel.appendChild(account.wrapper);
      panel.appendChild(
        element(
          "p",
          { class: "sjs-mandate" },
          "By continuing you authorize this merchant to debit your account for this payment."
        )
      );
      inputs.routing = routing.input;
      inputs.account = account.input;
    },
    ideal: function (panel, inputs) {
      var wrapper = element("label", { class: "sjs-field" });
      wrapper.appendChild(element("span", { class: "sjs-label" }, "iDEAL bank"));
      var select = element("select", { class: "sjs-input", name: "ideal-bank", "aria-label": "iDEAL bank" });
      BANKS.forEach(function (bank) {
        select.appendChild(element("option", { value: bank[0] }, bank[1]));
      });
      wrapper.appendChild(select);
      panel.appendChild(wrapper);
      panel.appendChild(
        element("p", { class: "sjs-mandate" }, "You will be redirected to your bank to authorize this payment.")
      );
      inputs.bank = select;
    },
    wallet: function (panel, inputs, type) {
      panel.appendChild(
        element("p", { class: "sjs-mandate" }, "You will confirm with " + LABELS[type] + " in the next step.")
      );
    }
  };

  function PaymentElement(elements, options) {
    this._elements = elements;
    this._options = options || {};
    this._handlers = {};
    this._type = "card";
    this._inputs = {};
  }

  PaymentElement.prototype.on = function (event, handler) {
    (this._handlers[event] = this._handlers[event] || []).push(handler);
    return this;
  };

  PaymentElement.prototype._emit = function (event, payload) {
    (this._handlers[event] || []).forEach(function (handler) {
      handler(payload);
    });
  };

  // The methods shown are the intent's `payment_method_types` the double can collect, as the
  // Payment Element shows what the intent allows; wallets come first, and only when the
  // browser offers them (`walletsOffered`).
  PaymentElement.prototype.mount = function (where) {
    var self = this;
    var node = typeof where === "string" ? document.querySelector(where) : where;
    if (!node) {
      throw new Error("IntegrationError: the element to mount into was not found");
    }
    var elements = this._elements;
    elements._client._retrieve(elements._clientSecret).then(function (found) {
      if (found.error) {
        self._emit("loaderror", { elementType: "payment", error: found.error });
        return;
      }
      var intent = found.paymentIntent || found.setupIntent;
      var allowed = intent.payment_method_types || ["card"];
      var types = COLLECTED.filter(function (type) {
        return allowed.indexOf(type) >= 0;
      });
      if (types.indexOf("card") >= 0) {
        types = walletsOffered().concat(types);
      }
      self._build(node, types);
    });
    return this;
  };

  PaymentElement.prototype._build = function (node, types) {
    var self = this;
    var root = element("div", { class: "sjs-payment-element", "data-testid": "payment-element" });
    var variables = (this._elements._appearance || {}).variables || {};
    Object.keys(variables).forEach(function (name) {
      root.style.setProperty("--sjs-" + name, variables[name]);
    });
    var tabs = element("div", { class: "sjs-tabs", role: "tablist" });
    var panels = {};
    types.forEach(function (type) {
      var tab = element(
        "button",
        { type: "button", class: "sjs-tab", role: "tab", "data-type": type },
        LABELS[type]
      );
      tab.addEventListener("click", function () {
        self._select(type, tabs, panels);
      });
      tabs.appendChild(tab);
    });
    if (types.length > 1) {
      root.appendChild(tabs);
    }
    this._inputs = {};
    types.forEach(function (type) {
      var panel = element("div", { class: "sjs-panel", "data-panel": type });
      PANELS[WALLETS[type] ? "wallet" : type](panel, self._inputs, type);
      panels[type] = panel;
      root.appendChild(panel);
    });
    node.appendChild(root);
    this._select(types.indexOf("card") >= 0 ? "card" : types[0], tabs, panels);
    this._emit("ready", { elementType: "payment" });
  };

  PaymentElement.prototype._select = function (type, tabs, panels) {
    this._type = type;
    Array.prototype.forEach.call(tabs.children, function (tab) {
      tab.setAttribute("aria-selected", String(tab.getAttribute("data-type") === type));
    });
    Object.keys(panels).forEach(function (name) {
      panels[name].hidden = name !== type;
    });
    this._emit("change", { elementType: "payment", value: { type: type } });
  };

  PaymentElement.prototype._paymentMethod = function () {
    function invalid(code, message) {
      return { error: { type: "validation_error", code: code, message: message } };
    }
    if (WALLETS[this._type]) {
      return { data: { type: "card", card: { token: WALLETS[this._type] } }, type: "card" };
    }
    if (this._type === "ideal") {
      var bank = this._inputs.bank.value;
      return { data: { type: "ideal", ideal: bank ? { bank: bank } : {} }, type: "ideal" };
    }
    if (this._type === "us_bank_account") {
      var routing = this._inputs.routing.value.replace(/\s+/g, "");
      var account = this._inputs.account.value.replace(/\s+/g, "");
      if (!/^\d{9}$/.test(routing)) {
        return invalid("incomplete_routing_number", "Your routing number is incomplete.");
      }
      if (!account) {
        return invalid("incomplete_account_number", "Your account number is incomplete.");
      }
      var known = ACCOUNTS[routing + "/" + account];
      return known
        ? { token: known, type: "us_bank_account" }
        : invalid("invalid_bank_account", "Your bank account details are invalid.");
    }
    if (this._type === "sepa_debit") {
      var iban = this._inputs.iban.value.replace(/\s+/g, "").toUpperCase();
      if (!iban) {
        return invalid("incomplete_iban", "Your IBAN is incomplete.");
      }
      return IBANS[iban] ? { token: IBANS[iban], type: "sepa_debit" } : invalid("invalid_iban", "Your IBAN is invalid.");
    }
    var number = this._inputs.number.value.replace(/[\s-]+/g, "");
    if (number.length < 15) {
      return invalid("incomplete_number", "Your card number is incomplete.");
    }
    if (!CARDS[number]) {
      return invalid("invalid_number", "Your card number is invalid.");
    }
    if (!/^\s*(0[1-9]|1[0-2])\s*\/\s*\d{2}\s*$/.test(this._inputs.expiry.value)) {
      return invalid("incomplete_expiry", "Your card's expiration date is incomplete.");
    }
    if (!/^\d{3,4}$/.test(this._inputs.cvc.value.trim())) {
      return invalid("incomplete_cvc", "Your card's security code is incomplete.");
    }
    return { token: CARDS[number], type: "card" };
  };

  function Elements(client, options) {
    target(options.clientSecret);
    this._client = client;
    this._clientSecret = options.clientSecret;
    this._appearance = options.appearance;
    this._payment = null;
  }

  Elements.prototype.create = function (type, options) {
    if (type !== "payment") {
      throw new Error("IntegrationError: the stand-in's Stripe.js has only the payment element");
    }
    this._payment = new PaymentElement(this, options);
    return this._payment;
  };

  Elements.prototype.getElement = function (type) {
    return type === "payment" ? this._payment : null;
  };

  function withOutcome(returnUrl, path, intent, secret) {
    var url = new URL(returnUrl, window.location.href);
    var name = path === "payment_intents" ? "payment_intent" : "setup_intent";
    url.searchParams.set(name, intent.id);
    url.searchParams.set(name + "_client_secret", secret);
    var status = intent.status === "succeeded" || intent.status === "processing" ? intent.status : "failed";
    url.searchParams.set("redirect_status", status);
    return url.toString();
  }

  function Client(key) {
    this._key = key;
  }

  Client.prototype.elements = function (options) {
    return new Elements(this, options || {});
  };

  Client.prototype._confirm = function (options) {
    var elements = options.elements;
    var secret = options.clientSecret || (elements && elements._clientSecret);
    var on = target(secret);
    var confirmParams = options.confirmParams || {};
    if (!confirmParams.return_url && options.redirect !== "if_required") {
      return Promise.reject(new Error("IntegrationError: confirmParams.return_url is required"));
    }
    var chosen = elements._payment._paymentMethod();
    if (chosen.error) {
      return Promise.resolve({ error: chosen.error });
    }
    var params = {
      key: this._key,
      client_secret: secret,
      payment_method: chosen.token,
      payment_method_data: chosen.data,
      return_url: confirmParams.return_url
    };
    if (chosen.type === "sepa_debit" || chosen.type === "us_bank_account") {
      params.mandate_data = { customer_acceptance: { type: "online", online: { infer_from_client: "true" } } };
    }
    return call("POST", on.path + "/" + on.id + "/confirm", params).then(function (answer) {
      if (!answer.ok) {
        return { error: answer.body.error };
      }
      var intent = answer.body;
      var next = intent.next_action;
      if (intent.status === "requires_action" && next && next.type === "redirect_to_url") {
        window.location.assign(next.redirect_to_url.url);
        return NEVER;
      }
      if (options.redirect === "if_required") {
        var result = {};
        result[on.path === "payment_intents" ? "paymentIntent" : "setupIntent"] = intent;
        return result;
      }
      window.location.assign(withOutcome(confirmParams.return_url, on.path, intent, secret));
      return NEVER;
    });
  };

  Client.prototype.confirmPayment = Client.prototype._confirm;
  Client.prototype.confirmSetup = Client.prototype._confirm;

  Client.prototype._retrieve = function (secret) {
    var on = target(secret);
    return call("GET", on.path + "/" + on.id, { key: this._key, client_secret: secret }).then(
      function (answer) {
        if (!answer.ok) {
          return { error: answer.body.error };
        }
        var result = {};
        result[on.path === "payment_intents" ? "paymentIntent" : "setupIntent"] = answer.body;
        return result;
      }
    );
  };

  Client.prototype.retrievePaymentIntent = Client.prototype._retrieve;
  Client.prototype.retrieveSetupIntent = Client.prototype._retrieve;

  Client.prototype.handleNextAction = function (options) {
    return this._retrieve(options.clientSecret).then(function (found) {
      var intent = found.paymentIntent || found.setupIntent;
      var next = intent && intent.next_action;
      if (next && next.type === "redirect_to_url") {
        window.location.assign(next.redirect_to_url.url);
        return NEVER;
      }
      return found;
    });
  };

  window.Stripe = function (key) {
    if (!/^pk_(test|live)_/.test(key || "")) {
      throw new Error("IntegrationError: Invalid API Key provided");
    }
    return new Client(key);
  };
  window.Stripe.version = 3;
})();
