// The pairing page: sends the typed (or QR-filled) token to POST /api/pair as JSON, which
// sets this browser's session cookie, then opens the app. Pairing is never a GET.
"use strict";
document.getElementById("pair-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = document.getElementById("pair-error");
  error.textContent = "";
  try {
    const res = await fetch("/api/pair", {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({token: document.getElementById("token").value,
                            label: navigator.userAgent.slice(0, 40)})});
    if (res.ok) { location.href = "/"; return; }
    const body = await res.json().catch(() => ({}));
    error.textContent = body.error || res.statusText;
  } catch (err) {
    error.textContent = "pairing: the engine cannot be reached (" + err.message + ")";
  }
});
