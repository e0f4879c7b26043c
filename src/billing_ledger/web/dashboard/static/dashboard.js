// The dashboard's charts, drawn by the vendored Chart.js from the page's JSON block
// (#dashboard-data): no inline script, nothing from another origin. Hovering a point shows its
// figure; clicking it opens the rows behind it (the read API, which takes this session's cookie).
(function () {
  "use strict";
  var block = document.getElementById("dashboard-data");
  if (!block || typeof Chart === "undefined") { return; }
  var data = JSON.parse(block.textContent);
  var css = getComputedStyle(document.documentElement);
  var primary = css.getPropertyValue("--bl-primary").trim() || "#7c5cff";
  var danger = css.getPropertyValue("--bl-danger").trim() || "#ff6b81";
  var text = css.getPropertyValue("--bl-text").trim() || "#eef0ff";
  var good = "#2ecc71", accent = "#00d4ff", amber = "#f1c40f";
  var grid = "rgba(255, 255, 255, 0.12)";
  var scale = Math.pow(10, data.decimals);
  var money = new Intl.NumberFormat("en", {
    style: "currency", currency: data.currency.toUpperCase(),
    minimumFractionDigits: data.decimals, maximumFractionDigits: data.decimals
  });
  var compact = new Intl.NumberFormat("en", {
    style: "currency", currency: data.currency.toUpperCase(), notation: "compact"
  });
  function showMoney(cents) { return money.format(cents / scale); }
  function showRate(rate) { return rate === null ? "—" : (rate * 100).toFixed(1) + "%"; }

  Chart.defaults.color = text;
  Chart.defaults.borderColor = grid;
  Chart.defaults.font.family = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
  Chart.defaults.maintainAspectRatio = false;

  function moneyAxis() {
    return { ticks: { callback: function (v) { return compact.format(v / scale); } } };
  }
  function rateAxis() {
    return { ticks: { callback: function (v) { return (v * 100).toFixed(0) + "%"; } } };
  }
  function opener(links) {
    return function (event, elements) {
      if (elements.length && links[elements[0].index]) {
        window.location.assign(links[elements[0].index]);
      }
    };
  }
  function pointer(event, elements) {
    event.native.target.style.cursor = elements.length ? "pointer" : "default";
  }
  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (!canvas) { return null; }
    config.options = Object.assign({ onHover: pointer, responsive: true }, config.options);
    return new Chart(canvas, config);
  }
  function moneyTooltip() {
    return { callbacks: { label: function (c) {
      var v = Array.isArray(c.raw) ? c.raw[1] - c.raw[0] : c.raw;
      return c.dataset.label + ": " + showMoney(v);
    } } };
  }
  function rateTooltip() {
    return { callbacks: { label: function (c) { return c.dataset.label + ": " + showRate(c.raw); } } };
  }

  draw("chart-mrr", {
    type: "line",
    data: { labels: data.months, datasets: [
      { label: "MRR", data: data.mrr, borderColor: primary, backgroundColor: primary, yAxisID: "y", tension: 0.25 },
      { label: "ARR", data: data.arr, borderColor: accent, backgroundColor: accent, yAxisID: "arr", borderDash: [6, 4], tension: 0.25 }
    ] },
    options: {
      interaction: { mode: "index", intersect: false },
      onClick: opener(data.links.mrr),
      plugins: { tooltip: moneyTooltip() },
      scales: { y: moneyAxis(), arr: Object.assign(moneyAxis(), { position: "right", grid: { drawOnChartArea: false } }) }
    }
  });

  var kinds = ["new", "expansion", "reactivation", "contraction", "churn"];
  var labels = { new: "New", expansion: "Expansion", reactivation: "Reactivation", contraction: "Contraction", churn: "Churn" };
  var colours = { new: good, expansion: accent, reactivation: amber, contraction: "#ff9f68", churn: danger };

  function waterfall(i) {
    var bars = [[0, data.start_mrr[i]]], level = data.start_mrr[i];
    kinds.forEach(function (k) { var next = level + data.movements[k][i]; bars.push([level, next]); level = next; });
    bars.push([0, data.mrr[i]]);
    return bars;
  }
  var steps = ["Start"].concat(kinds.map(function (k) { return labels[k]; }), ["End"]);
  var last = data.months.length - 1;
  var fall = draw("chart-waterfall", {
    type: "bar",
    data: { labels: steps, datasets: [{
      label: data.months[last] || "", data: last >= 0 ? waterfall(last) : [],
      backgroundColor: [primary].concat(kinds.map(function (k) { return colours[k]; }), [primary])
    }] },
    options: {
      onClick: function (event, elements) {
        var chosen = Number(document.getElementById("waterfall-month").value);
        if (elements.length) { window.location.assign(data.links.movements[chosen]); }
      },
      plugins: { legend: { display: false }, tooltip: moneyTooltip() },
      scales: { y: moneyAxis() }
    }
  });
  var select = document.getElementById("waterfall-month");
  if (select && fall) {
    select.addEventListener("change", function () {
      var i = Number(select.value);
      fall.data.datasets[0].data = waterfall(i);
      fall.data.datasets[0].label = data.months[i];
      fall.update();
    });
  }

  draw("chart-movements", {
    type: "bar",
    data: { labels: data.months, datasets: kinds.map(function (k) {
      return { label: labels[k], data: data.movements[k], backgroundColor: colours[k], stack: "moves" };
    }) },
    options: {
      onClick: opener(data.links.movements),
      plugins: { tooltip: moneyTooltip() },
      scales: { x: { stacked: true }, y: Object.assign(moneyAxis(), { stacked: true }) }
    }
  });

  var rateColours = [danger, "#ff9f68", good, accent];
  draw("chart-rates", {
    type: "line",
    data: { labels: data.months, datasets: Object.keys(data.rates).map(function (name, i) {
      return { label: data.rate_labels[name], data: data.rates[name], borderColor: rateColours[i], backgroundColor: rateColours[i], spanGaps: true, tension: 0.25 };
    }) },
    options: {
      interaction: { mode: "index", intersect: false },
      onClick: opener(data.links.movements),
      plugins: { tooltip: rateTooltip() },
      scales: { y: rateAxis() }
    }
  });

  function rateBars(id, series, label, colour) {
    draw(id, {
      type: "bar",
      data: { labels: series.months, datasets: [{ label: label, data: series.rate, backgroundColor: colour }] },
      options: {
        onClick: opener(series.links),
        plugins: { legend: { display: false }, tooltip: rateTooltip() },
        scales: { y: Object.assign(rateAxis(), { min: 0, max: 1 }) }
      }
    });
  }
  rateBars("chart-trials", data.trials, "Trials converted", good);
  rateBars("chart-payments", data.payments, "PaymentIntents succeeded", primary);
  rateBars("chart-dunning", data.dunning, "Invoices recovered", accent);
  document.body.setAttribute("data-charts", "ready");
}());
