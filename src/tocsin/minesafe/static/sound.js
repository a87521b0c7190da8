/* The dispatch room's alarm sound. Browsers play nothing until someone presses something on the page,
   so the page says plainly that sound is off and offers a button; once pressed, a new DANGER alarm or
   SOS (an element with data-sound that was not on the page before) plays a short two-tone alarm made
   with the Web Audio API (no audio file). The choice is kept for the tab (sessionStorage); after a
   reload the browser may want another press, and the page then says so.
   window.tocsinSoundsPlayed and the control's data-sounds-played count the alarms sounded. */
(function () {
  "use strict";
  var control = document.getElementById("sound-control");
  var button = document.getElementById("sound-arm");
  var note = document.getElementById("sound-note");
  if (!control || !button || !note) {
    return;
  }
  var KEY = "tocsin.minesafe.sound";
  var Context = window.AudioContext || window.webkitAudioContext;
  var context = null;
  var armed = false;
  var known = {};
  window.tocsinSoundsPlayed = 0;

  function remember(value) {
    try {
      if (value) {
        window.sessionStorage.setItem(KEY, "armed");
      } else {
        window.sessionStorage.removeItem(KEY);
      }
    } catch (error) {
      /* storage refused (private mode…): the choice lasts until the page reloads */
    }
  }

  function remembered() {
    try {
      return window.sessionStorage.getItem(KEY) === "armed";
    } catch (error) {
      return false;
    }
  }

  function show(state, noteKey) {
    armed = state === "on";
    control.setAttribute("data-sound-state", state);
    button.setAttribute("aria-pressed", armed ? "true" : "false");
    button.textContent = control.getAttribute(armed ? "data-text-on" : "data-text-off");
    note.textContent = control.getAttribute(noteKey);
  }

  /* A short two-tone alarm: four 150 ms square-wave beeps alternating 880 and 660 Hz. */
  function tone() {
    if (!context) {
      return;
    }
    var start = context.currentTime + 0.02;
    for (var i = 0; i < 4; i += 1) {
      var oscillator = context.createOscillator();
      var gain = context.createGain();
      oscillator.type = "square";
      oscillator.frequency.value = i % 2 ? 660 : 880;
      gain.gain.setValueAtTime(0.0001, start + i * 0.17);
      gain.gain.exponentialRampToValueAtTime(0.25, start + i * 0.17 + 0.01);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + i * 0.17 + 0.15);
      oscillator.connect(gain).connect(context.destination);
      oscillator.start(start + i * 0.17);
      oscillator.stop(start + i * 0.17 + 0.16);
    }
  }

  function ring() {
    window.tocsinSoundsPlayed += 1;
    control.setAttribute("data-sounds-played", String(window.tocsinSoundsPlayed));
    try {
      tone();
    } catch (error) {
      /* the sound failed; the page still shows the alarm */
    }
  }

  function arm() {
    if (!Context) {
      show("none", "data-note-none");
      return;
    }
    try {
      context = context || new Context();
      context.resume();
    } catch (error) {
      show("none", "data-note-none");
      return;
    }
    remember(true);
    show("on", "data-note-on");
    try {
      tone(); /* the press is heard: the operator knows the speakers work */
    } catch (error) {
      /* nothing to do: the banner says armed, the alarms still show */
    }
  }

  function disarm() {
    remember(false);
    show("off", "data-note-off");
  }

  /* Alarms already on the page when it loads are not new; every later one rings once. */
  function scan(ringing) {
    var found = false;
    document.querySelectorAll("[data-sound]").forEach(function (element) {
      var key = element.getAttribute("data-sound");
      if (!known[key]) {
        known[key] = true;
        found = true;
      }
    });
    if (found && ringing && armed) {
      ring();
    }
  }

  button.addEventListener("click", function () {
    if (armed) {
      disarm();
    } else {
      arm();
    }
  });
  button.hidden = false;
  scan(false);
  new MutationObserver(function () {
    scan(true);
  }).observe(control.closest("[data-live-source]") || document.body, { childList: true, subtree: true });

  if (remembered() && Context) {
    /* The tab had sound armed: keep it if the browser lets this page play without a new press. */
    try {
      context = new Context();
    } catch (error) {
      context = null;
    }
    if (context && context.state === "running") {
      show("on", "data-note-on");
    } else {
      show("off", "data-note-again");
    }
  } else if (!Context) {
    show("none", "data-note-none");
  } else {
    show("off", "data-note-off");
  }
})();
