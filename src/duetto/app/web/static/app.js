// Duetto's progressive enhancement: feed autoplay and sound, endless scroll, watch reports and the
// daily-limit nudge, live draft progress, library export and import progress, likes without reloads, share links.
// Every form works without it.
"use strict";

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

function post(url, body) {
  return fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "X-CSRF-Token": csrf(), "Accept": "application/json", "Content-Type": "application/json" },
    body: JSON.stringify(body || {}),
  });
}

function toast(text) {
  const el = document.createElement("div");
  el.className = "toast";
  el.setAttribute("role", "status");
  el.textContent = text;
  document.body.appendChild(el);
  setTimeout(() => el.remove(), 2200);
}

// --- Feed ---------------------------------------------------------------------------------------

const SOUND_KEY = "duetto.sound";
const REPORT_EVERY_S = 8;

function setupFeed(reels) {
  const signedIn = reels.dataset.signedIn === "yes";
  let soundOn = localStorage.getItem(SOUND_KEY) === "on";
  let nudged = false;
  const soundButton = document.querySelector(".js-sound");
  const nudge = document.querySelector(".nudge");

  const applySound = () => {
    reels.querySelectorAll("video").forEach((v) => { v.muted = !soundOn; });
    if (soundButton) {
      soundButton.querySelector(".label").textContent = soundOn ? "Sound on" : "Sound off";
      soundButton.setAttribute("aria-pressed", String(soundOn));
    }
  };
  soundButton?.addEventListener("click", () => {
    soundOn = !soundOn;
    localStorage.setItem(SOUND_KEY, soundOn ? "on" : "off");
    applySound();
    const active = reels.querySelector(".reel.active video");
    if (active) active.play().catch(() => {});
  });

  // Watching: seconds played per reel, and whether it played to its end (a loop wrapping around).
  const state = new WeakMap();
  const report = (reel, force) => {
    const s = state.get(reel);
    if (!s || !signedIn) return;
    const seconds = s.unreported;
    if (!force && seconds < REPORT_EVERY_S && !s.newCompletion) return;
    if (seconds <= 0 && !s.newCompletion && s.reported) return;
    s.unreported = 0;
    s.reported = true;
    const completed = s.completed;
    s.newCompletion = false;
    post(`/p/${reel.dataset.post}/view`, { seconds, completed })
      .then((r) => (r.ok ? r.json() : null))
      .then((data) => {
        if (data && data.limit_reached && nudge && !nudged) {
          nudged = true;
          nudge.hidden = false;
          // A limit set by a parent (or the teen defaults) stops the feed: there is no "keep watching".
          if (data.firm) nudge.querySelector(".js-nudge-close")?.remove();
          reels.querySelectorAll("video").forEach((v) => v.pause());
        }
      })
      .catch(() => {});
  };

  const track = (reel) => {
    const video = reel.querySelector("video");
    if (!video || state.has(reel)) return;
    const s = { last: null, unreported: 0, completed: false, newCompletion: false, reported: false };
    state.set(reel, s);
    video.addEventListener("timeupdate", () => {
      const t = video.currentTime;
      if (s.last !== null) {
        if (t < s.last && s.last > (video.duration || 1) * 0.8) {
          if (!s.completed) { s.completed = true; s.newCompletion = true; }
        } else if (t > s.last) {
          s.unreported += Math.min(t - s.last, 1);
        }
      }
      s.last = t;
      if (video.duration && t >= video.duration - 0.15 && !s.completed) { s.completed = true; s.newCompletion = true; }
      report(reel, false);
    });
  };

  const observer = new IntersectionObserver((entries) => {
    entries.forEach((entry) => {
      const reel = entry.target;
      const video = reel.querySelector("video");
      if (!video) return;
      if (entry.isIntersecting && entry.intersectionRatio >= 0.6) {
        reels.querySelectorAll(".reel.active").forEach((r) => r !== reel && r.classList.remove("active"));
        reel.classList.add("active");
        video.muted = !soundOn;
        if (!nudged || nudge?.hidden) video.play().catch(() => {});
      } else {
        video.pause();
        if (reel.classList.contains("active")) reel.classList.remove("active");
        report(reel, true);
      }
    });
  }, { root: reels, threshold: [0, 0.6, 1] });

  const adopt = (root) => {
    root.querySelectorAll(".reel").forEach((reel) => { track(reel); observer.observe(reel); });
    enhanceActions(root);
  };
  adopt(reels);
  applySound();

  // Endless scroll: fetch the next cards when the end comes into view.
  let more = reels.dataset.more;
  let loading = false;
  const end = reels.querySelector(".reels-end");
  // The ids already on screen (the latest 200 keep the URL short) so the next page never repeats one.
  const shown = () => Array.from(reels.querySelectorAll(".reel")).slice(-200).map((r) => r.dataset.post).join(",");
  const loadMore = () => {
    if (!more || loading) return;
    loading = true;
    fetch(`/feed/more?${more}&shown=${encodeURIComponent(shown())}`, { credentials: "same-origin" })
      .then((r) => { more = r.headers.get("x-more") || ""; return r.text(); })
      .then((html) => {
        const holder = document.createElement("div");
        holder.innerHTML = html;
        const fresh = Array.from(holder.querySelectorAll(".reel"));
        fresh.forEach((reel) => { end.before(reel); track(reel); observer.observe(reel); });
        enhanceActions(end.parentElement);
        applySound();
      })
      .finally(() => { loading = false; });
  };
  if (end) new IntersectionObserver((e) => e.some((x) => x.isIntersecting) && loadMore(), { root: reels, rootMargin: "600px" }).observe(end);

  document.querySelector(".js-nudge-close")?.addEventListener("click", () => {
    nudge.hidden = true;
    reels.querySelector(".reel.active video")?.play().catch(() => {});
  });
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) reels.querySelectorAll(".reel").forEach((r) => report(r, true));
  });
}

// --- Buttons that work in place: like, see less, share, confirm ------------------------------------

function enhanceActions(root) {
  root.querySelectorAll("form.js-like:not([data-ready])").forEach((form) => {
    form.dataset.ready = "1";
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      post(form.action.split("?")[0])
        .then((r) => { if (r.status === 401) { location.href = "/signin?next=" + encodeURIComponent(location.pathname); return null; } return r.json(); })
        .then((data) => {
          if (!data || data.error) return;
          const button = form.querySelector("button");
          button.classList.toggle("on", data.liked);
          button.setAttribute("aria-pressed", String(data.liked));
          button.querySelector(".count").textContent = data.likes;
        });
    });
  });
  root.querySelectorAll("form.js-less:not([data-ready])").forEach((form) => {
    form.dataset.ready = "1";
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      post(form.action.split("?")[0]).then((r) => {
        if (!r.ok) return;
        const reel = form.closest(".reel");
        toast("Got it: you'll see less like this");
        if (reel) {
          const next = reel.nextElementSibling;
          reel.remove();
          next?.scrollIntoView({ behavior: "smooth" });
        }
      });
    });
  });
  root.querySelectorAll(".js-share:not([data-ready])").forEach((button) => {
    button.dataset.ready = "1";
    button.addEventListener("click", () => {
      const url = button.dataset.url;
      const fallback = () => {
        let box = button.parentElement.querySelector(".share-box");
        if (!box) {
          box = document.createElement("div");
          box.className = "share-box";
          const input = document.createElement("input");
          input.readOnly = true;
          input.value = url;
          input.setAttribute("aria-label", "Link to this post");
          input.dataset.testid = "share-url";
          box.appendChild(input);
          button.after(box);
        }
        box.querySelector("input").select();
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(url).then(() => toast("Link copied"), fallback);
      } else {
        fallback();
      }
    });
  });
  root.querySelectorAll("form.js-confirm:not([data-ready])").forEach((form) => {
    form.dataset.ready = "1";
    form.addEventListener("submit", (event) => { if (!confirm(form.dataset.confirm)) event.preventDefault(); });
  });
}

// --- The create form's live token counter ----------------------------------------------------------
// The server counts with the model's own tokenizer file (no weights), so what this shows is what a job
// would be refused for. An over-long prompt blocks the submit with the same words; the server checks again.

function setupTokenCounter(form) {
  const counter = form.querySelector("[data-token-url]");
  const prompt = form.querySelector("textarea[name=prompt]");
  const audio = form.querySelector("input[name=audio]");
  if (!counter || !prompt) return;
  let timer = null;
  let asked = 0;
  const show = (data) => {
    let text;
    if (data.tokens === null) text = `${data.model} reads at most ${data.max_tokens} tokens.`;
    else if (data.over) text = `Too long: ${data.tokens} tokens; ${data.model} reads at most ${data.max_tokens} (the sound included). Shorten it.`;
    else text = `${data.tokens} / ${data.max_tokens} tokens (the sound included).`;
    counter.textContent = text;
    counter.classList.toggle("over", Boolean(data.over));
    counter.dataset.tokens = data.tokens === null ? "" : String(data.tokens);
    prompt.setCustomValidity(data.over ? text : "");
  };
  const count = async () => {
    const ticket = ++asked;
    const query = new URLSearchParams({ prompt: prompt.value, audio: audio ? audio.value : "", model: counter.dataset.model });
    try {
      const response = await fetch(`${counter.dataset.tokenUrl}?${query}`, { headers: { Accept: "application/json" } });
      if (!response.ok || ticket !== asked) return;
      show(await response.json());
    } catch (_) { /* offline: the server still checks on submit */ }
  };
  const later = () => { clearTimeout(timer); timer = setTimeout(count, 200); };
  prompt.addEventListener("input", later);
  if (audio) audio.addEventListener("input", later);
}

// --- Draft progress over Server-Sent Events --------------------------------------------------------

function showFailure(box, reason) {
  // The failed page, in place and at once: no "Making your video…" left standing, no reload.
  box.dataset.status = "failed";
  box.querySelector("h1").textContent = "This one didn't work";
  box.querySelector("progress").remove();
  const label = box.querySelector("[data-progress-label]");
  const alert = document.createElement("p");
  alert.className = "alert";
  alert.dataset.testid = "error";
  alert.setAttribute("role", "alert");
  alert.textContent = reason || "Generation failed.";
  label.replaceWith(alert);
  box.querySelectorAll("p.small").forEach((p) => p.remove());
  const retry = document.createElement("a");
  retry.className = "button";
  retry.href = box.dataset.retry;
  retry.textContent = "Try again";
  const again = document.createElement("p");
  again.append(retry);
  alert.after(again);
  const cancel = box.querySelector("[data-testid=cancel]");
  if (cancel) { cancel.textContent = "Delete draft"; cancel.dataset.testid = "delete-draft"; }
}

function setupProgress(box) {
  const bar = box.querySelector("progress");
  const label = box.querySelector("[data-progress-label]");
  const seen = [];
  const source = new EventSource(box.dataset.events);
  source.addEventListener("progress", (event) => {
    const data = JSON.parse(event.data);
    seen.push(data.progress);
    box.dataset.seen = seen.join(",");
    box.dataset.stage = data.stage;
    if (data.status === "failed") {
      source.close();
      showFailure(box, data.error);
      return;
    }
    box.dataset.status = data.status;
    bar.value = data.progress;
    label.textContent = data.label;
    if (data.status === "completed") {
      source.close();
      setTimeout(() => location.reload(), 400);
    }
  });
  source.addEventListener("gone", () => { source.close(); location.href = "/drafts"; });
}

// --- Library export and import progress, polled -----------------------------------------------------
// Each poll asks the transfer's own page for JSON; once it ends, that page is loaded (never a reload, which could
// resend a form) and the server draws the download link or the import's report. Without scripts a meta refresh
// reloads the page instead.

const POLL_MS = 1000;

function setupTransfer(box) {
  const bar = box.querySelector("progress");
  const label = box.querySelector("[data-transfer-label]");
  const poll = async () => {
    try {
      const response = await fetch(box.dataset.poll, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (response.ok) {
        const data = await response.json();
        box.dataset.status = data.status;
        bar.value = data.progress;
        label.textContent = data.label;
        if (!data.active) { location.href = box.dataset.poll; return; }
      }
    } catch (_) { /* offline for a moment: the next poll tries again */ }
    setTimeout(poll, POLL_MS);
  };
  setTimeout(poll, POLL_MS);
}

document.addEventListener("DOMContentLoaded", () => {
  const reels = document.querySelector(".reels");
  if (reels) setupFeed(reels);
  else enhanceActions(document);
  const box = document.querySelector(".progress-box[data-events]");
  if (box) setupProgress(box);
  document.querySelectorAll(".transfer[data-poll]").forEach(setupTransfer);
  const createForm = document.getElementById("create-form");
  if (createForm) setupTokenCounter(createForm);
  // Shared videos in messages play on hover/focus only; they stay muted.
  document.querySelectorAll(".shared video").forEach((v) => {
    v.addEventListener("mouseenter", () => v.play().catch(() => {}));
    v.addEventListener("mouseleave", () => v.pause());
  });
});
