/* Web Push on the profile page: subscribe this browser with the server's VAPID key and hand the
   subscription to Tocsin. A static file, as the Content-Security-Policy forbids inline scripts. */
(function () {
  "use strict";
  var box = document.getElementById("push");
  var button = document.getElementById("push-subscribe");
  var status = document.getElementById("push-status");
  if (!box || !button || !status) {
    return;
  }
  function say(key) {
    status.textContent = status.getAttribute("data-" + key) || "";
  }
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
    say("unsupported");
    return;
  }
  function keyBytes(base64url) {
    var padded = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i += 1) {
      bytes[i] = raw.charCodeAt(i);
    }
    return bytes;
  }
  button.hidden = false;
  button.addEventListener("click", function () {
    button.disabled = true;
    Notification.requestPermission().then(function (answer) {
      if (answer !== "granted") {
        say("denied");
        button.disabled = false;
        return null;
      }
      return navigator.serviceWorker.register(box.getAttribute("data-worker")).then(function (registration) {
        return navigator.serviceWorker.ready.then(function () {
          return registration.pushManager.subscribe({
            userVisibleOnly: true,
            applicationServerKey: keyBytes(box.getAttribute("data-key"))
          });
        });
      }).then(function (subscription) {
        return fetch(box.getAttribute("data-devices-url"), {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": box.getAttribute("data-csrf") },
          body: JSON.stringify({ subscription: subscription.toJSON() })
        });
      }).then(function (reply) {
        if (!reply.ok) {
          throw new Error("HTTP " + reply.status);
        }
        say("done");
        window.location.assign(box.getAttribute("data-done-url"));
      });
    }).catch(function () {
      say("failed");
      button.disabled = false;
    });
  });
})();
