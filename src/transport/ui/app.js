// harpoon's admin page: fills the recent-calls and denials tables from /ui/calls.json every
// two seconds. Text goes in with textContent only, never as markup. Shipped in the binary;
// no library, no build step.
"use strict";
(function () {
  var INTERVAL_MS = 2000;

  function row(cells) {
    var tr = document.createElement("tr");
    cells.forEach(function (text) {
      var td = document.createElement("td");
      td.textContent = String(text);
      tr.appendChild(td);
    });
    return tr;
  }

  function time(ms) {
    return new Date(ms).toISOString().slice(11, 23);
  }

  function latency(us) {
    return us >= 1000 ? (us / 1000).toFixed(1) + " ms" : us + " µs";
  }

  function fill(id, rows, empty, columns) {
    var body = document.getElementById(id);
    if (!body) {
      return;
    }
    var fragment = document.createDocumentFragment();
    if (rows.length === 0) {
      var tr = row([empty]);
      tr.firstChild.colSpan = columns;
      fragment.appendChild(tr);
    }
    rows.forEach(function (r) {
      fragment.appendChild(r);
    });
    body.replaceChildren(fragment);
  }

  function render(data) {
    fill("calls", data.calls.map(function (c) {
      var tr = row([time(c.time_ms), c.tool, c.target || "—", c.method || "—", c.decision,
        c.reason, c.status || "—", latency(c.latency_us), c.bytes_out, c.bytes_in]);
      tr.className = c.decision;
      return tr;
    }), "no calls yet", 10);
    fill("denials", data.denials.map(function (d) {
      return row([d.reason, d.calls]);
    }), "none since the start", 2);
    document.getElementById("live").textContent = "Live: updated " +
      new Date().toISOString().slice(11, 19) + " UTC; " + data.calls.length +
      " call(s) listed, " + data.in_flight + " in flight.";
  }

  function poll() {
    fetch("/ui/calls.json", { cache: "no-store", credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok) {
          throw new Error("HTTP " + r.status);
        }
        return r.json();
      })
      .then(render)
      .catch(function (e) {
        document.getElementById("live").textContent = "Update failed (" + e.message +
          "); retrying.";
      })
      .then(function () {
        setTimeout(poll, INTERVAL_MS);
      });
  }

  document.addEventListener("DOMContentLoaded", poll);
}());
