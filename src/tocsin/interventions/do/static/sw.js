/* Service worker of the technician page: keeps the page and its assets so it reloads with no
   network. Network first (fresh page, fresh CSRF token), the cached copy when offline. The JSON
   API is never cached: the page's own queue handles it. */
"use strict";
var CACHE = "tocsin-do-v1";
var PAGE = new URL(self.location.href).searchParams.get("page");  // the page's path, given at registration
var ASSETS = [
  PAGE,
  "/static/core/tocsin.css",
  "/static/interventions/do/technician.css",
  "/static/interventions/do/technician.js"
];

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) { return cache.addAll(ASSETS); }).then(function () {
    return self.skipWaiting();
  }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) { return name !== CACHE; }).map(function (name) {
      return caches.delete(name);
    }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("fetch", function (event) {
  var url = new URL(event.request.url);
  var cached = url.pathname === PAGE || ASSETS.indexOf(url.pathname) >= 0;
  if (event.request.method !== "GET" || url.origin !== self.location.origin || !cached) {
    return;
  }
  var key = url.pathname === PAGE ? PAGE : event.request;
  event.respondWith(fetch(event.request).then(function (response) {
    if (response.ok && !response.redirected) {
      var copy = response.clone();
      caches.open(CACHE).then(function (cache) { cache.put(key, copy); });
    }
    return response;
  }).catch(function () {
    return caches.match(key);
  }));
});
