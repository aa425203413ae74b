// Player search over the site's index (search.js = search.json as a script, so it works
// from file:// too). The index loads on first use; no other request, no dependency.
(function () {
  "use strict";
  var input = document.getElementById("player-search");
  var list = document.getElementById("search-results");
  if (!input || !list) { return; }
  var root = input.getAttribute("data-root") || "";
  var waiting = null; // callbacks waiting for the index while it loads

  function load(then) {
    if (window.ETL_DUCK_PLAYERS) { then(); return; }
    if (waiting) { waiting.push(then); return; }
    waiting = [then];
    var s = document.createElement("script");
    s.src = input.getAttribute("data-index");
    s.onload = function () {
      var calls = waiting;
      waiting = null;
      calls.forEach(function (f) { f(); });
    };
    s.onerror = function () { waiting = null; show([], "The player index could not be loaded."); };
    document.head.appendChild(s);
  }

  function matches(q) {
    q = q.trim().toLowerCase();
    if (!q) { return []; }
    var out = [];
    var players = window.ETL_DUCK_PLAYERS || [];
    for (var i = 0; i < players.length && out.length < 10; i++) {
      var p = players[i];
      var hit = p.name.toLowerCase().indexOf(q) >= 0 || p.guid.toLowerCase().indexOf(q) === 0;
      var alias = null;
      for (var j = 0; !hit && j < p.aliases.length; j++) {
        if (p.aliases[j].toLowerCase().indexOf(q) >= 0) { hit = true; alias = p.aliases[j]; }
      }
      if (hit) { out.push({ p: p, alias: alias }); }
    }
    return out;
  }

  function isolated(text) {
    var b = document.createElement("bdi");
    b.textContent = text;
    return b;
  }

  function show(found, message) {
    list.textContent = "";
    if (message) {
      var li = document.createElement("li");
      var span = document.createElement("span");
      span.textContent = message;
      li.appendChild(span);
      list.appendChild(li);
    }
    found.forEach(function (f) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = root + f.p.page;
      // names in <bdi>: a right-to-left name must not reorder the rounds after it
      a.appendChild(isolated(f.p.name));
      if (f.alias) {
        a.appendChild(document.createTextNode(" (as "));
        a.appendChild(isolated(f.alias));
        a.appendChild(document.createTextNode(")"));
      }
      a.appendChild(document.createTextNode(" · " + f.p.rounds + " rounds"));
      li.appendChild(a);
      list.appendChild(li);
    });
    list.hidden = !message && found.length === 0;
  }

  function update() {
    load(function () {
      var q = input.value;
      var found = matches(q);
      show(found, q.trim() && !found.length ? "No player matches." : null);
    });
  }

  input.addEventListener("input", update);
  input.addEventListener("focus", function () { load(function () {}); });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter") {
      var first = list.querySelector("a");
      if (first) { window.location.href = first.href; }
    } else if (e.key === "Escape") {
      input.value = ""; show([], null);
    }
  });
}());
