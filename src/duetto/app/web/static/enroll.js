// Enrollment: records the camera and microphone while the page cues the challenge (the digits, then the
// head turn), uploads the recording with the form, and shows what the server's checks found. Without
// JavaScript the form still takes a recorded video file.
"use strict";

(() => {
  const root = document.querySelector("[data-enroll]");
  if (!root) return;
  const seconds = Number(root.dataset.seconds);
  const turnAt = Number(root.dataset.turnAt);
  const form = root.querySelector(".enroll-form");
  const start = root.querySelector("[data-testid=enroll-start]");
  const preview = root.querySelector(".enroll-preview");
  const progress = root.querySelector(".enroll-progress");
  const status = root.querySelector(".enroll-status");
  const cues = { digits: root.querySelector("[data-cue=digits]"), turn: root.querySelector("[data-cue=turn]") };
  const result = document.querySelector(".enroll-result");
  const canRecord = !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia && window.MediaRecorder);

  if (!canRecord) {
    status.textContent = "This browser cannot record here; send a video of yourself doing both steps instead.";
    return;
  }
  root.querySelector(".enroll-fallback").hidden = true;
  start.hidden = false;

  // The challenge lasts two minutes from when it was issued.
  const expiresAt = Date.now() + Number(root.dataset.expiresIn) * 1000;
  let busy = false;
  const clock = setInterval(() => {
    const left = Math.max(0, Math.round((expiresAt - Date.now()) / 1000));
    if (!busy) status.textContent = left > 0
      ? `Valid for ${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}. Recording takes ${seconds} seconds.`
      : "This challenge expired. Get a new one below.";
    if (left === 0 && !busy) { clearInterval(clock); start.disabled = true; result.hidden = false;
      result.querySelector("[data-testid=enroll-retry]").hidden = false; }
  }, 500);

  const cue = (name) => {
    for (const [key, el] of Object.entries(cues)) el.classList.toggle("now", key === name);
  };
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const mimeType = () => ["video/webm;codecs=vp8,opus", "video/webm", "video/mp4"]
    .find((type) => MediaRecorder.isTypeSupported(type)) || "";

  const show = (data) => {
    result.hidden = false;
    const message = result.querySelector("[data-testid=enroll-message]");
    message.textContent = data.message;
    message.className = data.passed ? "notice" : "alert";
    const list = result.querySelector("[data-testid=enroll-checks]");
    list.replaceChildren(...(data.checks || []).map((check) => {
      const item = document.createElement("li");
      item.className = check.passed ? "ok" : "bad";
      item.dataset.check = check.name;
      // The tick or cross is drawn by the stylesheet (no font lacks it); screen readers get it in words.
      const said = document.createElement("span");
      said.className = "sr-only";
      said.textContent = check.passed ? "Passed: " : "Not passed: ";
      item.append(said, `${check.label}: ${check.message}`);
      return item;
    }));
    const link = result.querySelector("[data-testid=enroll-character]");
    if (data.character) {
      link.href = data.character.url;
      link.textContent = `See @${data.character.name}`;
      link.hidden = false;
    }
    result.querySelector("[data-testid=enroll-retry]").hidden = !!data.passed;
  };

  start.addEventListener("click", async () => {
    if (busy || !form.reportValidity()) return;
    busy = true;
    start.disabled = true;
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: "user", width: { ideal: 640 }, height: { ideal: 480 } },
        // The speech check wants the voice as it is: no gating of quiet digits by noise suppression.
        audio: { noiseSuppression: false, echoCancellation: false },
      });
    } catch (error) {
      status.textContent = "We need your camera and microphone: allow them, then press Start again.";
      start.disabled = false;
      busy = false;
      return;
    }
    preview.srcObject = stream;
    preview.hidden = false;
    preview.play().catch(() => {});
    const type = mimeType();
    const recorder = new MediaRecorder(stream, type ? { mimeType: type } : {});
    const chunks = [];
    recorder.addEventListener("dataavailable", (event) => { if (event.data.size) chunks.push(event.data); });
    const stopped = new Promise((resolve) => recorder.addEventListener("stop", resolve));
    recorder.start(1000);
    root.classList.add("recording");
    progress.hidden = false;
    const began = performance.now();
    cue("digits");
    status.textContent = "Recording: read the digits aloud.";
    const ticker = setInterval(() => {
      const t = (performance.now() - began) / 1000;
      progress.value = Math.min(t, seconds);
      if (t >= turnAt && !cues.turn.classList.contains("now")) {
        cue("turn");
        status.textContent = "Recording: now turn your head, then back.";
      }
    }, 100);
    await sleep(seconds * 1000);
    clearInterval(ticker);
    recorder.stop();
    await stopped;
    stream.getTracks().forEach((track) => track.stop());
    preview.srcObject = null;
    preview.hidden = true;
    root.classList.remove("recording");
    cue(null);
    status.textContent = "Checking your recording…";

    const blob = new Blob(chunks, { type: recorder.mimeType || type || "video/webm" });
    const body = new FormData(form);
    body.delete("recording");
    body.append("recording", blob, blob.type.includes("mp4") ? "enrollment.mp4" : "enrollment.webm");
    let data;
    try {
      const response = await fetch(form.action, {
        method: "POST", body, credentials: "same-origin", headers: { Accept: "application/json" },
      });
      data = await response.json();
    } catch (error) {
      data = { passed: false, message: "The recording could not be sent; check your connection and try again." };
    }
    status.textContent = data.passed ? "Done." : "Not enrolled.";
    clearInterval(clock);
    form.hidden = true;
    show(data);
  });
})();
