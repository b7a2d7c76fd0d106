/* The door screen's service worker: keeps the page, its scripts, styles and the QR
   reader, so that a reload (or a restart of the browser) without network still opens a
   working door screen. The server prepends the list of files and their version:
   const VERSION = "..."; const PAGE = "/events/<slug>/door"; const ASSETS = [...];

   The page is asked of the network first (it is always fresh when the network is
   there) and kept; the files are served from the cache and fetched again with a new
   version. The API is never cached: the snapshot and the queue live in IndexedDB. */

/* global VERSION, PAGE, ASSETS */

const CACHE = `tracker-door-${VERSION}`;
const PAGE_TIMEOUT_MS = 4000;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll([PAGE, ...ASSETS]))
      .then(() => self.skipWaiting())
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) =>
        Promise.all(
          keys
            .filter((k) => k.startsWith("tracker-door-") && k !== CACHE)
            .map((k) => caches.delete(k))
        )
      )
      .then(() => self.clients.claim())
  );
});

function pageFromNetwork(request) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("timeout")), PAGE_TIMEOUT_MS);
    fetch(request).then(
      (response) => {
        clearTimeout(timer);
        resolve(response);
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      }
    );
  });
}

async function page(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await pageFromNetwork(request);
    // Only the door screen itself is kept (not a redirect to the login page).
    if (response.ok && !response.redirected) await cache.put(PAGE, response.clone());
    return response;
  } catch {
    const kept = await cache.match(PAGE);
    if (kept) return kept;
    throw new Error("offline, and no door screen kept");
  }
}

async function asset(request) {
  const cache = await caches.open(CACHE);
  const kept = await cache.match(request, { ignoreSearch: true });
  if (kept) return kept;
  const response = await fetch(request);
  if (response.ok) await cache.put(request, response.clone());
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname === PAGE && request.mode === "navigate") {
    event.respondWith(page(request));
  } else if (ASSETS.includes(url.pathname)) {
    event.respondWith(asset(request));
  }
});
