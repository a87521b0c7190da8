/* Technician page: every Start and End is queued on the phone with the phone's own time, then posted
   when the network allows (at load, on the "online" event and every 20 s), so a PM without coverage
   costs a delay, never a declaration. The client makes the reference, so a re-post is idempotent.
   Each button does only what it says, and only in its own mode: Start queues an M1 while idle, End
   an M3 while an intervention runs; Enter in a field does neither.
   Plain JavaScript, no framework, no network dependency. */
(function () {
  "use strict";
  var QUEUE = "tocsin.do.queue";
  var CURRENT = "tocsin.do.current";
  var KEEP = 30;
  var form = document.getElementById("declare");
  var pm = document.getElementById("pm");
  var pmError = document.getElementById("pm-error");
  var startButton = document.getElementById("start");
  var endButton = document.getElementById("end");
  var linesBox = document.getElementById("lines");
  var template = document.getElementById("line-template");
  var list = document.getElementById("queue");
  var status = document.getElementById("status");
  var network = document.getElementById("network");
  var texts = JSON.parse(document.getElementById("do-texts").textContent);
  var flushing = false;
  var STATES = {
    queued: "Queued on this phone",
    sent: "Sent, waiting for the OI",
    acknowledged: "Acknowledged by the OI",
    rejected: "Rejected by the OI",
    failed: "Delivery failed",
    refused: "Refused"
  };

  function t(text, values) {
    var result = texts[text] || text;
    Object.keys(values || {}).forEach(function (key) {
      result = result.split("{" + key + "}").join(values[key]);
    });
    return result;
  }

  function load(key, fallback) {
    try {
      var value = JSON.parse(localStorage.getItem(key));
      return value === null ? fallback : value;
    } catch (error) {
      return fallback;
    }
  }

  function save(key, value) {
    localStorage.setItem(key, JSON.stringify(value));
  }

  function pad(n) {
    return (n < 10 ? "0" : "") + n;
  }

  /* ISO 8601 with the phone's own offset, to the second (what the OI receives). */
  function isoLocal(date) {
    var offset = -date.getTimezoneOffset();
    var sign = offset >= 0 ? "+" : "-";
    offset = Math.abs(offset);
    return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) +
      "T" + pad(date.getHours()) + ":" + pad(date.getMinutes()) + ":" + pad(date.getSeconds()) +
      sign + pad(Math.floor(offset / 60)) + ":" + pad(offset % 60);
  }

  function newReference(date) {
    var bytes = new Uint8Array(5);
    crypto.getRandomValues(bytes);
    var random = Array.prototype.map.call(bytes, function (b) {
      return (b < 16 ? "0" : "") + b.toString(16);
    }).join("").toUpperCase();
    return form.dataset.code + "-" + date.getFullYear() + pad(date.getMonth() + 1) + pad(date.getDate()) + "-" + random;
  }

  function addLine(values) {
    var line = template.content.firstElementChild.cloneNode(true);
    linesBox.appendChild(line);
    if (values) {
      line.querySelector("[data-name=nature]").value = String(values.nature);
      line.querySelector("[data-name=PBO]").value = values.PBO || "";
      line.querySelector("[data-name=PTO]").value = values.PTO || "";
    }
    line.querySelector(".remove-line").addEventListener("click", function () {
      line.remove();
      renumber();
    });
    renumber();
    return line;
  }

  function renumber() {
    var lines = linesBox.querySelectorAll(".line");
    lines.forEach(function (line, index) {
      var title = t("Line {n}", { n: index + 1 });
      line.querySelector(".line-title").textContent = title;
      line.querySelectorAll("[data-name]").forEach(function (input) {
        input.id = "natures-" + index + "-" + input.dataset.name;
      });
      line.querySelectorAll("label[data-for]").forEach(function (label) {
        label.htmlFor = "natures-" + index + "-" + label.dataset.for;
      });
      var remove = line.querySelector(".remove-line");
      remove.hidden = lines.length === 1;
      remove.setAttribute("aria-label", remove.textContent.trim() + " (" + title + ")");
    });
    endOnlyNatures(form.dataset.mode === "running");
  }

  /* AUCUNE ACTION is a result, never a plan: offered at the end only. */
  function endOnlyNatures(running) {
    linesBox.querySelectorAll("option[data-end-only]").forEach(function (option) {
      option.disabled = !running;
      option.hidden = !running;
      if (!running && option.selected) {
        option.parentNode.value = "4";
      }
    });
  }

  function resetLines(values) {
    linesBox.textContent = "";
    (values && values.length ? values : [null]).forEach(addLine);
  }

  function natures() {
    return Array.prototype.map.call(linesBox.querySelectorAll(".line"), function (line) {
      var item = { nature: Number(line.querySelector("[data-name=nature]").value) };
      ["PBO", "PTO"].forEach(function (key) {
        var value = line.querySelector("[data-name=" + key + "]").value.trim();
        if (value) {
          item[key] = value;
        }
      });
      return item;
    });
  }

  function setMode(mode) {
    var running = mode === "running";
    var current = load(CURRENT, null);
    form.dataset.mode = mode;
    startButton.hidden = running;
    endButton.hidden = !running;
    pm.readOnly = running;
    endOnlyNatures(running);
    var info = document.getElementById("running");
    info.hidden = !running;
    if (running && current) {
      pm.value = current.pm;
      info.textContent = t("Started at {pm}, {time}", { pm: current.pm, time: new Date(current.at).toLocaleTimeString() });
    }
  }

  function showPmError(message) {
    pmError.textContent = message;
    pmError.hidden = !message;
    pm.setAttribute("aria-invalid", message ? "true" : "false");
    pm.setAttribute("aria-describedby", message ? "pm-error pm-hint" : "pm-hint");
    if (message) {
      pm.focus();
    }
  }

  function knownPm(value) {
    return Array.prototype.some.call(document.querySelectorAll("#pm-list option"), function (option) {
      return option.value === value;
    });
  }

  function enqueue(entry) {
    var queue = load(QUEUE, []);
    entry.id = entry.action + ":" + entry.ref_do;
    entry.state = "queued";
    queue = queue.filter(function (e) { return e.id !== entry.id; });
    queue.push(entry);
    save(QUEUE, queue);
    render();
    announce(describe(entry));
  }

  function update(id, changes) {
    var queue = load(QUEUE, []);
    queue.forEach(function (entry) {
      if (entry.id === id) {
        var moved = changes.state && changes.state !== entry.state;
        Object.assign(entry, changes);
        if (moved) {
          announce(describe(entry));
        }
      }
    });
    var done = queue.filter(function (e) { return e.state !== "queued" && e.state !== "sent"; });
    var drop = done.slice(0, Math.max(0, done.length - KEEP)).map(function (e) { return e.id; });
    save(QUEUE, queue.filter(function (e) { return drop.indexOf(e.id) < 0; }));
    render();
  }

  function describe(entry) {
    var label = entry.action === "start" ? "Started at {pm}, {time}" : "Ended at {pm}, {time}";
    var text = t(label, { pm: entry.pm, time: new Date(entry.at).toLocaleTimeString() }) + " — " + t(STATES[entry.state]);
    return entry.reason ? text + " (" + entry.reason + ")" : text;
  }

  function render() {
    list.textContent = "";
    load(QUEUE, []).slice().reverse().forEach(function (entry) {
      var item = document.createElement("li");
      item.dataset.state = entry.state;
      item.dataset.action = entry.action;
      item.dataset.ref = entry.ref_do;
      item.className = "state-" + entry.state;
      item.textContent = describe(entry);
      list.appendChild(item);
    });
  }

  function announce(text) {
    status.textContent = text;
  }

  function showNetwork() {
    network.textContent = navigator.onLine ? t("Online") : t("Offline: your declarations stay on this phone and leave when the network is back.");
    network.dataset.online = navigator.onLine ? "yes" : "no";
  }

  function stateOf(action, data) {
    var state = action === "start" ? data.m1_state : data.m3_state;
    if (state === "ok" || state === "replaced") {
      return "acknowledged";
    }
    if (state === "ko" || state === "closed") {
      return "rejected";
    }
    return state === "failed" ? "failed" : "sent";
  }

  function abandon(ref) {
    var current = load(CURRENT, null);
    if (current && current.ref_do === ref) {
      localStorage.removeItem(CURRENT);
      setMode("idle");
    }
  }

  /* Post one entry: true when the server gave a final answer, false to stop and retry later. */
  function post(entry) {
    var body = { ref_do: entry.ref_do, pm: entry.pm, natures: entry.natures };
    body[entry.action === "start" ? "started_at" : "ended_at"] = entry.time;
    return fetch(entry.action === "start" ? form.dataset.startUrl : form.dataset.endUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": form.dataset.csrf },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (response.ok) {
          update(entry.id, { state: stateOf(entry.action, data), reason: "" });
          return true;
        }
        if (response.status === 401 || response.status >= 500 || data.field === "csrf") {
          announce(t("Sign in again to send your queued declarations."));
          return false;
        }
        update(entry.id, { state: "refused", reason: (data.field ? data.field + ": " : "") + (data.message || data.reason || response.status) });
        if (entry.action === "start") {
          abandon(entry.ref_do);
        }
        return true;
      });
    }, function () {
      showNetwork();
      return false;
    });
  }

  function sendNext() {
    var next = load(QUEUE, []).filter(function (e) { return e.state === "queued"; })[0];
    if (!next) {
      return Promise.resolve();
    }
    return post(next).then(function (answered) {
      return answered ? sendNext() : undefined;
    });
  }

  function poll() {
    load(QUEUE, []).filter(function (e) { return e.state === "sent"; }).forEach(function (entry) {
      fetch(form.dataset.statusUrl.replace(/REF$/, encodeURIComponent(entry.ref_do)), { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (data) {
            update(entry.id, { state: stateOf(entry.action, data) });
          }
        }, function () {});
    });
  }

  function flush() {
    if (flushing || !navigator.onLine) {
      return;
    }
    flushing = true;
    sendNext().then(function () {
      flushing = false;
      poll();
    }, function () {
      flushing = false;
    });
  }

  /* The second click of a double tap lands where the other button has just appeared: ignore it, so
     a hurried Start never ends the intervention it started (a keyboard press has detail 0). */
  function repeated(event) {
    return event.detail > 1;
  }

  function start(event) {
    if (form.dataset.mode !== "idle" || repeated(event)) {
      return;
    }
    var now = new Date();
    var reference = pm.value.trim().toUpperCase();
    if (!reference || !knownPm(reference)) {
      showPmError(reference ? t("This PM is not in our referential.") : t("Enter the PM."));
      return;
    }
    showPmError("");
    var entry = { action: "start", ref_do: newReference(now), pm: reference, natures: natures(), time: isoLocal(now), at: now.getTime() };
    save(CURRENT, { ref_do: entry.ref_do, pm: reference, at: entry.at, natures: entry.natures });
    enqueue(entry);
    setMode("running");
    document.getElementById("running").focus();
    flush();
  }

  function end(event) {
    var current = load(CURRENT, null);
    if (form.dataset.mode !== "running" || !current || repeated(event)) {
      return;
    }
    var now = new Date();
    enqueue({ action: "end", ref_do: current.ref_do, pm: current.pm, natures: natures(), time: isoLocal(now), at: now.getTime() });
    localStorage.removeItem(CURRENT);
    pm.value = "";
    setMode("idle");
    resetLines();
    document.getElementById("queue-title").focus();
    flush();
  }

  startButton.addEventListener("click", start);
  endButton.addEventListener("click", end);
  /* No submit button: Enter in a field must neither start nor end an intervention, nor reload the page. */
  form.addEventListener("submit", function (event) {
    event.preventDefault();
  });

  document.getElementById("add-line").addEventListener("click", function () {
    addLine(null).querySelector("select").focus();
  });
  window.addEventListener("online", function () { showNetwork(); flush(); });
  window.addEventListener("offline", showNetwork);
  setInterval(flush, 20000);

  var running = load(CURRENT, null);
  resetLines(running ? running.natures : null);
  setMode(running ? "running" : "idle");
  showNetwork();
  render();
  flush();
  if ("serviceWorker" in navigator) {
    var page = form.dataset.pageUrl;
    var scope = page.slice(0, page.lastIndexOf("/") + 1);
    var worker = form.dataset.workerUrl + "?page=" + encodeURIComponent(page);
    navigator.serviceWorker.register(worker, { scope: scope }).catch(function () {});
  }
})();
