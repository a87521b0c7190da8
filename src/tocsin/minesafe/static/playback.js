// The history playback (/minesafe/playback): the time slider moves each tracker's marker to its last fix
// at that moment and highlights the alarms open then. Without this script the page shows the trackers at
// the period's start and every alarm of the period. The positions come embedded in #playback-data:
// {start, length, step, stale, zone, markers: [{dom, track: [[seconds from start, svg x, svg y], …]}]}.
(function () {
  "use strict";
  var root = document.querySelector("[data-playback]");
  var source = document.getElementById("playback-data");
  if (!root || !source) return;
  var data = JSON.parse(source.textContent);
  var slider = document.getElementById("moment");
  var shown = root.querySelector("[data-moment-shown]");
  var play = root.querySelector("[data-play]");
  var speed = root.querySelector("[data-speed]");
  var status = root.querySelector("[data-playback-status]");
  var alarms = Array.prototype.slice.call(root.querySelectorAll(".playback-alarms > li"));
  var clock = new Intl.DateTimeFormat(document.documentElement.lang === "en" ? "en-GB" : document.documentElement.lang, {
    timeZone: data.zone, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false
  });
  var markers = data.markers.map(function (m) {
    return { node: document.getElementById(m.dom), track: m.track, times: m.track.map(function (p) { return p[0]; }) };
  });

  function lastAtOrBefore(times, t) {  // index of the last fix at or before t, -1 if none
    var low = 0, high = times.length;
    while (low < high) {
      var mid = (low + high) >> 1;
      if (times[mid] <= t) low = mid + 1; else high = mid;
    }
    return low - 1;
  }

  function show(t) {
    var rings = {};
    var active = 0;
    alarms.forEach(function (li) {
      var since = Number(li.dataset.since), until = li.dataset.until === "" ? Infinity : Number(li.dataset.until);
      var on = since <= t && t < until;
      li.classList.toggle("active", on);
      li.querySelector("[data-now]").hidden = !on;
      if (!on) return;
      active += 1;
      li.dataset.trackers.split(" ").forEach(function (id) {
        if (li.dataset.level === "danger" || rings[id] !== "danger") rings[id] = li.dataset.level;
      });
    });
    markers.forEach(function (m) {
      if (!m.node) return;
      var i = lastAtOrBefore(m.times, t);
      var fix = i < 0 ? null : m.track[i];
      var ring = fix ? rings[m.node.dataset.tracker] || "" : "";
      m.node.classList.toggle("absent", !fix);
      m.node.classList.toggle("stale", !!fix && t - fix[0] > data.stale);
      if (fix) m.node.setAttribute("transform", "translate(" + fix[1] + "," + fix[2] + ")");
      m.node.classList.toggle("ring-danger", ring === "danger");
      m.node.classList.toggle("ring-warning", ring === "warning");
    });
    var text = clock.format(new Date((data.start + t) * 1000)).replace(/\u202f/g, " ");
    shown.textContent = text;
    slider.setAttribute("aria-valuetext", text);
    return active;
  }

  function announce() {
    var active = show(Number(slider.value));
    status.textContent = status.dataset.template.replace("{time}", shown.textContent).replace("{n}", active);
  }

  var timer = null;
  function stop() {
    if (timer !== null) clearInterval(timer);
    timer = null;
    play.setAttribute("aria-pressed", "false");
    play.textContent = play.dataset.labelPlay;
  }
  function start() {
    if (Number(slider.value) >= data.length) slider.value = 0;
    play.setAttribute("aria-pressed", "true");
    play.textContent = play.dataset.labelPause;
    timer = setInterval(function () {  // 5 frames a second, the speed in seconds of history per second
      var next = Math.min(Number(slider.value) + Math.max(1, Math.round(Number(speed.value) / 5)), data.length);
      slider.value = next;
      show(Number(slider.value));
      if (next >= data.length) { stop(); announce(); }
    }, 200);
  }

  slider.addEventListener("input", function () { show(Number(slider.value)); });
  slider.addEventListener("change", announce);
  play.addEventListener("click", function () { if (timer === null) start(); else { stop(); announce(); } });
  root.querySelector("[data-playback-controls]").hidden = false;
  show(Number(slider.value));
})();
