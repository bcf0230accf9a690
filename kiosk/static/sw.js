// The kiosk's service worker (served at /borne/sw.js, scope /borne): it keeps the shell
// loading while the server is down. It holds no data: the scans wait in IndexedDB (the
// page's outbox), not here — no Background Sync, which is not reliable.
//
//   navigation to /borne      network first (3 s), else (or on a 5xx: a proxy's 502) the
//                             cached shell: a revoked kiosk gets the server's enrolment
//                             page whenever the server answers;
//   /borne/static/*           cache first (precached at install);
//   /borne/etat, /borne/eleves/*, /api/*, anything else: not touched (straight to network).
//
// VERSION is written by the server when it serves this file (kiosk/pages.py): a digest
// of the kiosk's static files, so any change of them installs a new worker and drops the
// old cache. Opened as a plain file, it keeps this placeholder.

const VERSION = "borne-dev";
const SHELL = "/borne";
const STATIC = "/borne/static/";
const ASSETS = [
  "kiosk.css",
  "kiosk.js",
  "wedge.js",
  "outbox.js",
  "feedback.js",
  "vendor/idb/index.js",
  "fonts/atkinson-hyperlegible-next-latin-400-normal.woff2",
  "fonts/atkinson-hyperlegible-next-latin-700-normal.woff2",
  "fonts/atkinson-hyperlegible-next-latin-ext-400-normal.woff2",
  "fonts/atkinson-hyperlegible-next-latin-ext-700-normal.woff2",
].map((path) => STATIC + path);
const NAVIGATION_TIMEOUT_MS = 3000;

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(VERSION);
      await cache.addAll(ASSETS);
      // The shell only if this browser is an enrolled kiosk (else /borne is the 401
      // enrolment page, which must not be kept as the shell).
      try {
        const response = await fetch(SHELL, { credentials: "same-origin", cache: "no-store" });
        if (response.ok) {
          await cache.put(SHELL, response);
        }
      } catch (error) {
        // the page caches it on its next successful load
      }
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      const names = await caches.keys();
      await Promise.all(
        names.filter((name) => name.startsWith("borne-") && name !== VERSION).map((name) => caches.delete(name)),
      );
      await self.clients.claim();
    })(),
  );
});

function isShell(url) {
  return url.pathname === SHELL || url.pathname === `${SHELL}/`;
}

async function shellFromNetwork(request) {
  const cache = await caches.open(VERSION);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), NAVIGATION_TIMEOUT_MS);
  try {
    const response = await fetch(request, { signal: controller.signal });
    if (response.ok && response.type === "basic") {
      await cache.put(SHELL, response.clone());
      return response;
    }
    // A 5xx is not the application's word on this kiosk: nginx's 502/504 while gunicorn is
    // down, a 503 while the database is. The cached shell keeps the kiosk (and its outbox)
    // working; it reloads itself should the server, once back, say the kiosk is revoked.
    if (response.status >= 500) {
      const cached = await cache.match(SHELL);
      if (cached) {
        return cached;
      }
    }
    // Any other answer of the server (the enrolment page of a revoked kiosk: 401) wins.
    return response;
  } catch (error) {
    const cached = await cache.match(SHELL);
    if (cached) {
      return cached;
    }
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

async function staticAsset(request) {
  const cache = await caches.open(VERSION);
  const hit = await cache.match(request);
  if (hit) {
    return hit;
  }
  try {
    const response = await fetch(request);
    if (response.ok && response.type === "basic") {
      await cache.put(request, response.clone());
    }
    return response;
  } catch (error) {
    // A versioned URL (?v=…) not cached yet: the same file without the query will do.
    const loose = await cache.match(request, { ignoreSearch: true });
    if (loose) {
      return loose;
    }
    throw error;
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") {
    return;
  }
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) {
    return;
  }
  if (request.mode === "navigate" && isShell(url)) {
    event.respondWith(shellFromNetwork(request));
    return;
  }
  // axe-core is for tests only: never cached.
  if (url.pathname.startsWith(STATIC) && !url.pathname.startsWith(`${STATIC}vendor/axe-core/`)) {
    event.respondWith(staticAsset(request));
  }
  // Everything else (/borne/etat, /borne/eleves/*, /api/*, /borne/inscription/*): untouched.
});
