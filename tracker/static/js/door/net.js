/* Talking to the server: one request, sent again with the same body (so the same
   nonce) when no answer came. An answer, whatever its status, is never sent again. */

export const RETRY_DELAYS_MS = [0, 400, 1200];
export const TIMEOUT_MS = 8000;

export const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/* Run attempt() after each delay in turn until one resolves; resolves to its value, or
   to onGiveUp() when every attempt failed (threw or rejected). */
export async function retrying(attempt, { delays = RETRY_DELAYS_MS, sleep = wait, onGiveUp }) {
  for (let i = 0; i < delays.length; i += 1) {
    if (delays[i]) await sleep(delays[i]);
    try {
      return await attempt(i);
    } catch {
      /* no answer: try again, with the same body */
    }
  }
  return onGiveUp();
}

/* fetch() that gives up after `timeoutMs` (a request whose answer never comes counts as
   lost, even if the server did the work: the nonce makes sending it again safe). */
export async function fetchWithTimeout(url, init, { timeoutMs = TIMEOUT_MS, fetchImpl = fetch } = {}) {
  const controller = typeof AbortController === "function" ? new AbortController() : null;
  const timer = controller ? setTimeout(() => controller.abort(), timeoutMs) : null;
  try {
    return await fetchImpl(url, controller ? { ...init, signal: controller.signal } : init);
  } finally {
    clearTimeout(timer);
  }
}

/* Resolves to {status, body}; status 0 when no answer came at all. */
export function makeSender({ csrf = "", fetchImpl, delays = RETRY_DELAYS_MS, sleep = wait, timeoutMs = TIMEOUT_MS } = {}) {
  const doFetch = fetchImpl || ((url, init) => fetch(url, init));
  return function send(method, url, body, isForm) {
    const headers = { Accept: "application/json", "X-CSRFToken": csrf };
    if (body !== undefined && !isForm) headers["Content-Type"] = "application/json";
    const init = {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : isForm ? body : JSON.stringify(body),
    };
    return retrying(
      async () => {
        const response = await fetchWithTimeout(url, init, { timeoutMs, fetchImpl: doFetch });
        let data = {};
        try {
          data = await response.json();
        } catch {
          data = {};
        }
        return { status: response.status, body: data };
      },
      { delays, sleep, onGiveUp: () => ({ status: 0, body: {} }) }
    );
  };
}
