// The review page: one queue item at a time, a key per verdict, the audio playing in this browser.
//
// Every string from the server is set with textContent, never as HTML: crawled strings arrive
// inert (their control and bidi characters made visible), and the page keeps them text, each in
// a <bdi> so that right-to-left text cannot reorder what is around it.
//
// Key actions run one after another in the order they were typed (a promise chain), so keys
// typed ahead of a slow answer are kept, as in the terminal. body's data-position and
// data-pending say what is shown and whether anything is still running (the browser tests wait
// on them).
"use strict";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const source = params.has("source") ? params.get("source") : null; // only this source's items
const VERDICTS = { y: "right", n: "wrong", u: "unsure" };

let state = null; // /api/state: progress and the items in queue order
let item = null; // /api/item/P: the item shown
let note = ""; // the note for the next verdict (key m)
let reviewer = stored();
let chain = Promise.resolve();
let pending = 0;

function stored() {
  try {
    return localStorage.getItem("wsdata.reviewer");
  } catch (e) {
    return null; // storage disabled: the name is asked for on each visit
  }
}

function keep(name) {
  try {
    localStorage.setItem("wsdata.reviewer", name);
  } catch (e) {
    // kept for this visit only
  }
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function bdi(text) {
  return el("bdi", text);
}

function seconds(ms) {
  return (ms / 1000).toFixed(2);
}

async function api(path, body) {
  const init =
    body === undefined
      ? { cache: "no-store" }
      : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const r = await fetch(path, init);
  const data = await r.json().catch(() => ({ error: r.status + " " + r.statusText }));
  if (!r.ok) throw new Error(data.error || r.statusText);
  return data;
}

function act(fn) {
  pending += 1;
  document.body.dataset.pending = String(pending);
  chain = chain
    .then(fn)
    .then(
      () => {
        $("error").hidden = true;
      },
      (e) => {
        $("error").hidden = false;
        $("error").textContent = "error: " + e.message;
      },
    )
    .finally(() => {
      pending -= 1;
      document.body.dataset.pending = String(pending);
    });
}

// -- progress ---------------------------------------------------------------------------------

async function refresh() {
  state = await api("/api/state" + (source === null ? "" : "?source=" + encodeURIComponent(source)));
  $("build").textContent = state.build;
  const judgedHere = state.items.filter((i) => i.judged).length;
  $("progress").textContent =
    source === null
      ? `${state.judged} / ${state.total} judged`
      : `${judgedHere} / ${state.items.length} of this source judged (${state.judged} / ${state.total} in all)`;
  const rows = state.strata.map((s) => {
    const bar = el("progress");
    bar.max = s.total;
    bar.value = s.judged;
    const cell = el("td");
    cell.append(bar);
    const tr = el("tr");
    tr.append(el("td"), el("td", `${s.judged} / ${s.total}`), cell);
    tr.firstChild.append(bdi(s.stratum));
    return tr;
  });
  $("strata").replaceChildren(...rows);
  if (source !== null) {
    $("filter").hidden = false;
    $("filter-source").textContent = state.source === "" ? "(none)" : state.source;
  }
}

function indexOf(position) {
  return state.items.findIndex((i) => i.position === position);
}

function nextUnjudged(after) {
  // The first item nobody has judged after index `after` of the list, wrapping round.
  const n = state.items.length;
  for (let k = 1; k <= n; k++) {
    const it = state.items[(after + k) % n];
    if (!it.judged) return it.position;
  }
  return null;
}

// -- one item -----------------------------------------------------------------------------------

async function show(position) {
  item = await api("/api/item/" + position);
  draw();
  document.body.dataset.position = String(position);
}

function fact(name, ...parts) {
  return [el("dt", name), (() => {
    const dd = el("dd");
    dd.append(...parts);
    return dd;
  })()];
}

function draw() {
  $("done").hidden = true;
  $("item").hidden = false;
  const i = indexOf(item.position);
  const title = [`item ${i + 1} / ${state.items.length} · `, el("span", item.decision, item.decision)];
  if (item.reason) title.push(" · ", bdi(item.reason));
  $("title").replaceChildren(...title);

  const facts = [...fact("source", bdi(item.source ?? "-")), ...fact("document", bdi(item.doc_id ?? "-"))];
  if (item.segment_id) facts.push(...fact("segment", bdi(item.segment_id)));
  if (item.start_ms !== null) {
    const end = item.end_ms ?? item.start_ms;
    facts.push(...fact("span", `${seconds(item.start_ms)}–${seconds(end)} s of `, bdi(item.audio_uri ?? "the source")));
  } else if (item.audio_uri) {
    facts.push(...fact("audio", bdi(item.audio_uri)));
  }
  if (item.language) facts.push(...fact("language", bdi(item.language)));
  if (item.detail) facts.push(...fact("detail", bdi(item.detail)));
  facts.push(...fact("stratum", bdi(item.stratum)));
  $("facts").replaceChildren(...facts);

  const audio = $("audio");
  audio.pause();
  if (item.audio.src) {
    audio.hidden = false;
    audio.src = item.audio.src;
    $("audio-note").textContent =
      item.audio.kind === "segment"
        ? "The kept segment's audio, as the shards hold it; cue times are from its start."
        : "An excerpt decoded from the source audio (at most 30 s of the span the reject names).";
  } else {
    audio.removeAttribute("src");
    audio.load();
    audio.hidden = true;
    $("audio-note").textContent = item.audio.explanation;
  }

  const cues = item.cues.map((c) => {
    const li = el("li");
    li.append(el("span", `${seconds(c.start_ms)}–${seconds(c.end_ms)}`, "time"), bdi(c.text));
    return li;
  });
  $("cues").replaceChildren(...(cues.length ? cues : [el("li", "(no cues)")]));
  $("text").textContent = item.text ?? "(none)";

  $("evidence").replaceChildren(
    ...item.evidence.map(([k, v]) => {
      const li = el("li");
      li.append(el("span", null, "name"), " ", bdi(v));
      li.firstChild.append(bdi(k));
      return li;
    }),
  );
  $("verdicts").replaceChildren(
    ...(item.verdicts.length
      ? item.verdicts.map((v) => {
          const li = el("li");
          li.append(bdi(v.reviewer), `: ${v.verdict} at ${v.time}`);
          if (v.note) li.append(" · ", bdi(v.note));
          return li;
        })
      : [el("li", "none yet")]),
  );
}

function highlight() {
  // The cue under the playhead (cue times are relative to the kept segment's audio).
  if (!item || !item.audio.src) return;
  const t = $("audio").currentTime * 1000;
  const lis = $("cues").children;
  item.cues.forEach((c, k) => {
    const on = c.start_ms <= t && t < c.end_ms;
    if (lis[k].classList.contains("active") !== on) {
      lis[k].classList.toggle("active", on);
      if (on) lis[k].scrollIntoView({ block: "nearest" });
    }
  });
}

function follow() {
  highlight();
  if (!$("audio").paused) requestAnimationFrame(follow);
}

// -- actions ------------------------------------------------------------------------------------

async function judge(verdict) {
  if (!item) return;
  const saved = await api("/api/verdict", { position: item.position, check: item.check, verdict, reviewer, note });
  note = "";
  $("pending-note").textContent = "";
  $("saved").textContent = `saved: ${saved.saved} on item ${indexOf(item.position) + 1}`;
  await refresh();
  const next = nextUnjudged(indexOf(item.position));
  if (next === null) finished();
  else await show(next);
}

function finished() {
  $("audio").pause();
  $("item").hidden = true;
  $("done").hidden = false;
  $("done").textContent =
    "Every item here has a verdict. The arrows go back through them; the report has the numbers.";
}

async function move(step) {
  await refresh();
  const n = state.items.length;
  if (!n) return;
  const i = item ? indexOf(item.position) : -1;
  const j = Math.min(n - 1, Math.max(0, i < 0 ? 0 : i + step));
  await show(state.items[j].position);
}

function toggle() {
  const audio = $("audio");
  if (!item || !item.audio.src) return;
  if (audio.paused) {
    audio.play().catch((e) => {
      $("error").hidden = false;
      $("error").textContent = "cannot play: " + e.message;
    });
  } else {
    audio.pause();
  }
}

function askNote() {
  $("note-row").hidden = false;
  $("note").value = note;
  $("note").focus();
}

function askName() {
  $("who").hidden = false;
  $("who-name").value = reviewer || state.default_reviewer || "";
  $("who-name").focus();
}

async function start() {
  await refresh();
  if (!reviewer) {
    askName();
    return;
  }
  $("reviewer").textContent = reviewer;
  // Reopening starts at the first item nobody has judged.
  const first = state.first_unjudged;
  if (first !== null) {
    await show(first);
  } else if (state.items.length) {
    await show(state.items[0].position);
    finished();
  } else {
    $("done").hidden = false;
    $("done").textContent = "The review queue is empty.";
  }
}

// -- wiring -------------------------------------------------------------------------------------

window.addEventListener(
  "keydown",
  (e) => {
    if (e.target instanceof HTMLInputElement || e.ctrlKey || e.metaKey || e.altKey || !reviewer) return;
    const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
    if (key in VERDICTS) act(() => judge(VERDICTS[key]));
    else if (key === "m") act(askNote);
    else if (key === " ") act(toggle);
    else if (key === "ArrowRight" || key === "ArrowDown") act(() => move(1));
    else if (key === "ArrowLeft" || key === "ArrowUp") act(() => move(-1));
    else return;
    e.preventDefault(); // no page scroll on space, no "m" typed into the note box
  },
  true,
);

$("note").addEventListener("keydown", (e) => {
  if (e.key === "Enter") {
    note = $("note").value;
    $("pending-note").textContent = note ? "note for the next verdict: " + note : "";
  } else if (e.key !== "Escape") {
    return;
  }
  e.preventDefault();
  $("note-row").hidden = true;
  $("note").blur();
});

$("who").addEventListener("submit", (e) => {
  e.preventDefault();
  const name = $("who-name").value.trim();
  if (!name) return;
  reviewer = name;
  keep(name);
  $("who").hidden = true;
  $("who-name").blur();
  act(start);
});

$("rename").addEventListener("click", () => {
  if (state) askName();
});

$("audio").addEventListener("timeupdate", highlight);
$("audio").addEventListener("play", () => requestAnimationFrame(follow));

act(start);
