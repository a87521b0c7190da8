/* Live pages: an element with data-live-source listens to that URL's server-sent events; after each
   burst of events it fetches its own page again and merges the parts marked data-live-part into the
   page without moving the keyboard focus (a part holding the focus is merged child by child, and the
   focused element is kept as it is until the focus leaves it). Rows whose data-live-label is new
   (a new row, or a row that has something new to say) are announced in the polite aria-live region
   (data-live-announce) with the text of their part's data-live-new, and highlighted for a while.
   The browser resumes the stream after a cut with the last event id it saw, so nothing is missed.
   No inline script: the Content-Security-Policy forbids it. */
(function () {
  "use strict";
  var root = document.querySelector("[data-live-source]");
  if (!root || !window.EventSource || !window.fetch || !window.DOMParser) {
    return;
  }
  var announcer = root.querySelector("[data-live-announce]");
  var status = root.querySelector("[data-live-status]");
  var QUIET_MS = 250; /* gather a burst of events into one refresh */
  var SPACING_MS = 1000; /* at most one refresh a second, however busy the stream */
  var timer = null;
  var busy = false;
  var again = false;
  var stale = false; /* something was left as it was because it held the focus */
  var lastFetch = 0;
  var stopped = false;

  function show(text) {
    if (status) {
      status.textContent = text || "";
      status.hidden = !text;
    }
  }

  function announce(text) {
    if (!announcer || !text) {
      return;
    }
    announcer.textContent = "";
    window.setTimeout(function () {
      announcer.textContent = text;
    }, 50);
  }

  function schedule() {
    if (timer || stopped) {
      return;
    }
    var wait = Math.max(QUIET_MS, lastFetch + SPACING_MS - Date.now());
    timer = window.setTimeout(refresh, wait);
  }

  function stop() {
    stopped = true;
    source.close();
    show(root.dataset.liveStopped);
    announce(root.dataset.liveStopped);
  }

  function refresh() {
    timer = null;
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    lastFetch = Date.now();
    fetch(window.location.href, { credentials: "same-origin", cache: "no-store", headers: { Accept: "text/html" } })
      .then(function (reply) {
        if (reply.redirected || !reply.ok) {
          throw new Error("page answered " + reply.status);
        }
        return reply.text();
      })
      .then(merge)
      .catch(stop)
      .then(function () {
        busy = false;
        if (again) {
          again = false;
          schedule();
        }
      });
  }

  function labelled(part) {
    var found = {};
    part.querySelectorAll("[data-live-label][id]").forEach(function (row) {
      found[row.id] = row.getAttribute("data-live-label");
    });
    return found;
  }

  function merge(html) {
    var fresh = new DOMParser().parseFromString(html, "text/html");
    var said = [];
    root.querySelectorAll("[data-live-part]").forEach(function (part) {
      var name = part.getAttribute("data-live-part");
      var next = fresh.querySelector('[data-live-part="' + name + '"]');
      if (!next) {
        return;
      }
      var before = labelled(part);
      var after = labelled(next);
      var added = Object.keys(after).filter(function (id) { return before[id] !== after[id]; });
      morph(part, next);
      if (added.length && part.hasAttribute("data-live-new")) {
        var names = added.slice(0, 5).map(function (id) { return after[id]; });
        if (added.length > 5) {
          names.push("…");
        }
        said.push(part.getAttribute("data-live-new").split("{list}").join(names.join(", ")));
        added.forEach(function (id) {
          var row = document.getElementById(id);
          if (row) {
            row.classList.add("live-new");
            window.setTimeout(function () { row.classList.remove("live-new"); }, 10000);
          }
        });
      }
    });
    announce(said.join(" "));
  }

  /* Make ``old`` look like ``next``; the element holding the focus, and its ancestors, stay in place. */
  function morph(old, next) {
    if (old.isEqualNode(next)) {
      return old;
    }
    var focus = document.activeElement;
    if (!old.contains(focus) || focus === document.body) {
      var copy = document.importNode(next, true);
      old.replaceWith(copy);
      return copy;
    }
    if (old === focus || old.tagName !== next.tagName) {
      stale = true;
      return old;
    }
    Array.prototype.slice.call(next.attributes).forEach(function (attribute) {
      old.setAttribute(attribute.name, attribute.value);
    });
    var olds = Array.prototype.slice.call(old.children);
    var wanted = Array.prototype.slice.call(next.children);
    var byId = {};
    olds.forEach(function (child) {
      if (child.id) {
        byId[child.id] = child;
      }
    });
    var matches = [];
    wanted.forEach(function (child, index) {
      var match = child.id ? byId[child.id] : olds[index];
      var fits = match && match.id === child.id && match.tagName === child.tagName && matches.indexOf(match) < 0;
      matches.push(fits ? match : null);
    });
    olds.forEach(function (child) {
      if (matches.indexOf(child) >= 0) {
        return;
      }
      if (child.contains(focus)) {
        stale = true;
      } else {
        child.remove();
      }
    });
    var previous = null;
    wanted.forEach(function (child, index) {
      var placed = matches[index] ? morph(matches[index], child) : document.importNode(child, true);
      var spot = previous ? previous.nextElementSibling : old.firstElementChild;
      if (placed !== spot) {
        if (placed.contains(focus)) {
          stale = true; /* moving it would drop the focus: the order is mended when the focus leaves */
        } else {
          old.insertBefore(placed, spot);
        }
      }
      previous = placed;
    });
    return old;
  }

  root.addEventListener("focusout", function () {
    if (stale) {
      stale = false;
      window.setTimeout(schedule, 0);
    }
  });

  var source = new EventSource(root.getAttribute("data-live-source"));
  source.onopen = function () {
    show(root.dataset.liveOn);
  };
  source.onmessage = schedule;
  source.addEventListener("reset", schedule);
  source.addEventListener("end", stop);
  source.onerror = function () {
    if (source.readyState === EventSource.CLOSED) {
      stop();
    }
  };
})();
