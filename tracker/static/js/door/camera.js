/* The camera: reads QR codes with the browser's BarcodeDetector when it has one, else
   with the vendored jsQR (a classic script, loaded on first use and cached offline). */

import { asCode } from "./util.js";

export function makeCamera(ctx) {
  const { M } = ctx;
  const panel = document.getElementById("door-camera-panel");
  const video = document.getElementById("door-video");
  const message = document.getElementById("door-camera-message");
  const defaultMessage = message.textContent;
  const state = { open: false, paused: false, stream: null, detect: null, last: "", lastAt: 0 };
  let messageTimer = null;

  function loadScript(src) {
    return new Promise((resolve) => {
      if (window.jsQR) {
        resolve();
        return;
      }
      const s = document.createElement("script");
      s.src = src;
      s.onload = resolve;
      s.onerror = resolve;
      document.head.appendChild(s);
    });
  }

  async function nativeDetector() {
    if (!("BarcodeDetector" in window)) return null;
    try {
      const formats = await window.BarcodeDetector.getSupportedFormats();
      if (formats.indexOf("qr_code") < 0) return null;
      const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      return async (source) => {
        const codes = await detector.detect(source);
        return codes.length ? codes[0].rawValue : null;
      };
    } catch {
      return null;
    }
  }

  async function makeDetector() {
    const native = await nativeDetector();
    if (native) return native;
    await loadScript(ctx.root.dataset.jsqr);
    if (!window.jsQR) return null;
    const canvas = document.createElement("canvas");
    const c2d = canvas.getContext("2d", { willReadFrequently: true });
    return async (source) => {
      const w = source.videoWidth;
      const h = source.videoHeight;
      if (!w || !h) return null;
      const scale = Math.min(1, 720 / Math.max(w, h));
      canvas.width = Math.round(w * scale);
      canvas.height = Math.round(h * scale);
      c2d.drawImage(source, 0, 0, canvas.width, canvas.height);
      const image = c2d.getImageData(0, 0, canvas.width, canvas.height);
      const found = window.jsQR(image.data, image.width, image.height, {
        inversionAttempts: "attemptBoth",
      });
      return found ? found.data : null;
    };
  }

  function tell(text, transient) {
    message.textContent = text;
    clearTimeout(messageTimer);
    if (transient) {
      messageTimer = setTimeout(() => {
        message.textContent = defaultMessage;
      }, 2500);
    }
  }

  async function loop() {
    if (!state.open) return;
    const busy = state.paused || video.readyState < 2 || !state.detect;
    let value = null;
    if (!busy) {
      try {
        value = await state.detect(video);
      } catch {
        value = null;
      }
    }
    if (value && state.open && !state.paused) found(value);
    if (state.open) setTimeout(loop, 120);
  }

  function found(value) {
    const code = asCode(value);
    if (!code) {
      tell(M.camera_not_a_code, true);
      return;
    }
    // The badge that was just read is probably still in front of the lens.
    if (code === state.last && Date.now() - state.lastAt < 4000) return;
    state.last = code;
    state.paused = true;
    ctx.checkIn({ code }, "camera");
  }

  function fail(text) {
    close();
    ctx.view.show("error", { title: M.error, detail: text, result: "camera" });
  }

  async function open() {
    if (!window.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      fail(M.camera_insecure);
      return;
    }
    state.open = true;
    state.paused = false;
    panel.hidden = false;
    tell(defaultMessage);
    ctx.input.blur();
    try {
      const stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: { ideal: "environment" } },
        audio: false,
      });
      if (!state.open) {
        stream.getTracks().forEach((t) => t.stop());
        return;
      }
      state.stream = stream;
      video.srcObject = stream;
      await video.play();
      const detect = await makeDetector();
      if (!state.open || !state.stream) return;
      if (!detect) {
        fail(M.camera_unsupported);
        return;
      }
      state.detect = detect;
      loop();
    } catch {
      fail(M.camera_denied);
    }
  }

  function close() {
    state.open = false;
    state.detect = null;
    if (state.stream) state.stream.getTracks().forEach((t) => t.stop());
    state.stream = null;
    video.srcObject = null;
    panel.hidden = true;
  }

  return {
    get open() {
      return state.open;
    },
    openCamera: open,
    close: () => {
      close();
      ctx.refocus();
    },
    resume: () => {
      state.paused = false;
      state.lastAt = Date.now();
    },
  };
}
