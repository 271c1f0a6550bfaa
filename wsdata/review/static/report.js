// The served report follows the verdicts: every 2 s it asks whether the queue or the verdicts
// changed, and when they did it fetches the page again and swaps the body in. The server escapes
// every crawled string in that HTML, and its policy runs no script that is not one of its files.
"use strict";

let version = null;

async function follow() {
  try {
    const r = await fetch("/api/version", { cache: "no-store" });
    const v = (await r.json()).version;
    if (version !== null && v !== version) {
      const page = await (await fetch("/report", { cache: "no-store" })).text();
      const doc = new DOMParser().parseFromString(page, "text/html");
      document.body.replaceChildren(...Array.from(doc.body.childNodes, (n) => document.importNode(n, true)));
      const live = document.getElementById("live");
      if (live) live.textContent = "live: updated " + new Date().toLocaleTimeString();
    }
    version = v;
  } catch (e) {
    // the server is gone or restarting: try again on the next tick
  }
  setTimeout(follow, 2000);
}

follow();
