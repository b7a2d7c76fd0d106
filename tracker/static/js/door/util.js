/* Small helpers of the door screen that need no page: formatting, codes, nonces. */

export const CODE_RE = /^[A-Z2-7]{26}$/;

/* "{name} is here" with {name: "Ada"}: unknown keys are left as they are. */
export function fmt(template, values) {
  return String(template).replace(/\{(\w+)\}/g, (all, key) =>
    Object.prototype.hasOwnProperty.call(values, key) ? values[key] : all
  );
}

/* What a scanner (or a person) typed, as a check-in code, or null. */
export function asCode(raw) {
  const squeezed = String(raw || "").replace(/[\s-]+/g, "").toUpperCase();
  return CODE_RE.test(squeezed) ? squeezed : null;
}

export function uuid(cryptoImpl = globalThis.crypto) {
  if (cryptoImpl && typeof cryptoImpl.randomUUID === "function") {
    return cryptoImpl.randomUUID();
  }
  // crypto.randomUUID needs a secure context; getRandomValues does not.
  const b = new Uint8Array(16);
  cryptoImpl.getRandomValues(b);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => (x + 0x100).toString(16).slice(1)).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/* Lower case, no accents, apostrophes or hyphens: as the server folds names to search. */
export function fold(text) {
  return String(text || "")
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[’'`‐-―-]/g, " ")
    .replace(/\s+/g, " ")
    .trim();
}

/* The SHA-256 of a text, in lower-case hex (the snapshot keeps codes only so). */
export async function sha256Hex(text, subtle = globalThis.crypto && globalThis.crypto.subtle) {
  const bytes = new TextEncoder().encode(text);
  const digest = await subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (x) => (x + 0x100).toString(16).slice(1)).join("");
}

export function localTime(iso, { timeZone, locale, now = new Date() } = {}) {
  if (!iso) return "";
  const when = new Date(iso);
  if (isNaN(when.getTime())) return iso;
  const options = { hour: "2-digit", minute: "2-digit", timeZone };
  const day = { year: "numeric", month: "2-digit", day: "2-digit", timeZone };
  try {
    const sameDay =
      new Intl.DateTimeFormat("en", day).format(when) ===
      new Intl.DateTimeFormat("en", day).format(now);
    if (!sameDay) {
      options.day = "numeric";
      options.month = "short";
    }
    return new Intl.DateTimeFormat(locale, options).format(when);
  } catch {
    return when.toLocaleTimeString();
  }
}

/* A registration's answers shown at the door (the JSON's "answers": only the questions
   marked for the door), as "Label: answer" lines in the page's words (`template`, with
   {label} and {value}); anything malformed is left out. */
export function answerLines(registration, template = "{label}: {value}") {
  const answers = registration && Array.isArray(registration.answers) ? registration.answers : [];
  return answers
    .filter((a) => a && typeof a.label === "string" && typeof a.value === "string" && a.value)
    .map((a) => fmt(template, { label: a.label, value: a.value }));
}

/* localStorage that keeps quiet in private browsing (the choice then lasts as long as
   the page). store(key) reads, store(key, value) writes. */
export function store(key, value) {
  try {
    if (value === undefined) return window.localStorage.getItem(key);
    window.localStorage.setItem(key, value);
  } catch {
    /* private browsing */
  }
  return null;
}
