// newswire console: one ES module, no framework, no build step.
// Every call goes to /v1 with the key from this tab's session storage in the Authorization
// header; the key never goes into a URL. Text from the server is set with textContent only.

const KEY = "newswire.apiKey";
const $ = (selector, root = document) => root.querySelector(selector);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child);
  }
  return node;
}

// --- the API --------------------------------------------------------------------------------

class Problem extends Error {
  constructor(status, body, retryAfter = null) {
    const detail = typeof body === "object" && body ? body.detail || body.title : String(body);
    super(detail || `HTTP ${status}`);
    this.status = status;
    this.body = typeof body === "object" && body ? body : {};
    // Seconds the server asked to wait (429, 503), or null.
    this.retryAfter = retryAfter;
  }
}

function authHeaders(extra = {}) {
  return { Authorization: `Bearer ${sessionStorage.getItem(KEY) || ""}`, ...extra };
}

async function api(path, { method = "GET", body, headers = {}, signal } = {}) {
  const init = { method, headers: authHeaders(headers), signal };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    if (response.status === 401 && path !== "/v1/subscriptions?limit=1") {
      signOut("Your API key was refused; sign in again.");
    }
    const wait = Number.parseInt(response.headers.get("Retry-After") || "", 10);
    throw new Problem(response.status, data, Number.isFinite(wait) ? wait : null);
  }
  return data;
}

function flash(message) {
  const box = $("#flash");
  box.textContent = message;
  box.hidden = !message;
}

// --- pages and sign-in ----------------------------------------------------------------------

const PAGES = ["subscriptions", "alerts", "delivery"];
let current = null;

function route() {
  const signedIn = Boolean(sessionStorage.getItem(KEY));
  let page = location.hash.replace(/^#\//, "") || "subscriptions";
  if (!PAGES.includes(page)) page = "subscriptions";
  if (!signedIn) page = "signin";
  $("#nav").hidden = !signedIn;
  $("#sign-out").hidden = !signedIn;
  for (const section of document.querySelectorAll(".page")) {
    section.hidden = section.id !== `page-${page}`;
  }
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.page === page) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (current === "alerts" && page !== "alerts") alerts.stop();
  const changed = current !== page;
  current = page;
  document.title = `newswire · ${page === "signin" ? "sign in" : page}`;
  if (page === "signin") $("#api-key").focus();
  else if (page === "subscriptions") subscriptions.load();
  else if (page === "alerts" && changed) alerts.start();
  else if (page === "delivery") delivery.load();
  if (changed && page !== "signin") $("#main").focus();
}

function signOut(message = "") {
  sessionStorage.removeItem(KEY);
  alerts.stop();
  flash(message);
  location.hash = "#/";
  route();
}

async function signIn(event) {
  event.preventDefault();
  const input = $("#api-key");
  const error = $("#signin-error");
  error.textContent = "";
  const key = input.value.trim();
  if (!key) {
    error.textContent = "Enter your API key.";
    input.setAttribute("aria-invalid", "true");
    return;
  }
  sessionStorage.setItem(KEY, key);
  try {
    await api("/v1/subscriptions?limit=1");
  } catch (problem) {
    sessionStorage.removeItem(KEY);
    input.setAttribute("aria-invalid", "true");
    error.textContent =
      problem.status === 401 ? "That key was refused." : `Could not sign in: ${problem.message}`;
    return;
  }
  input.value = "";
  input.removeAttribute("aria-invalid");
  flash("");
  location.hash = "#/subscriptions";
  route();
}

// --- helpers --------------------------------------------------------------------------------

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// Text with each of ``terms`` wrapped in <mark> (case-insensitive, longest first).
function highlighted(text, terms) {
  const fragment = document.createDocumentFragment();
  const words = [...new Set(terms.map((t) => t.replace(/^\*|\*$/g, "")).filter((t) => t.length > 1))];
  if (!words.length) {
    fragment.append(text);
    return fragment;
  }
  words.sort((a, b) => b.length - a.length);
  const pattern = new RegExp(`(${words.map(escapeRegExp).join("|")})`, "giu");
  text.split(pattern).forEach((part, i) => {
    fragment.append(i % 2 ? el("mark", { text: part }) : part);
  });
  return fragment;
}

function when(iso) {
  const date = new Date(iso);
  return el("time", { datetime: iso, text: date.toLocaleString() });
}

function tags(ids) {
  return ids.map((id) => el("span", { class: "tag", text: id }));
}

function sentimentLabel(sentiment) {
  if (!sentiment) return null;
  const label = sentiment.label || "neutral";
  const score = typeof sentiment.score === "number" ? ` ${sentiment.score.toFixed(2)}` : "";
  return el("span", { class: `sent-${label}`, text: `sentiment ${label}${score}` });
}

function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

// --- subscriptions --------------------------------------------------------------------------

const subscriptions = {
  items: new Map(),
  editing: null,
  previewSeq: 0,

  async fetchAll() {
    const items = [];
    let cursor = null;
    do {
      const query = cursor ? `?limit=200&cursor=${encodeURIComponent(cursor)}` : "?limit=200";
      const page = await api(`/v1/subscriptions${query}`);
      items.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor);
    this.items = new Map(items.map((s) => [s.id, s]));
    return items;
  },

  async load() {
    try {
      this.render(await this.fetchAll());
    } catch (problem) {
      flash(`Could not load subscriptions: ${problem.message}`);
    }
  },

  render(items) {
    const body = $("#subs-table tbody");
    body.replaceChildren(
      ...items.map((sub) => {
        const toggle =
          sub.status === "active"
            ? el("button", { type: "button", class: "quiet", onclick: () => this.setStatus(sub, "paused"), text: "Pause" })
            : el("button", { type: "button", class: "quiet", onclick: () => this.setStatus(sub, "active"), text: sub.status === "paused" ? "Resume" : "Re-enable" });
        return el(
          "tr",
          { "data-id": sub.id },
          el("th", { scope: "row", text: sub.name }),
          el("td", {}, sub.query ? el("code", { class: "q", text: sub.query }) : null, el("div", {}, ...tags(sub.topics))),
          el("td", {}, el("span", { class: `status-${sub.status}`, text: sub.status }), sub.status_reason ? el("div", { class: "help", text: sub.status_reason }) : null),
          el("td", { text: [sub.webhook ? "webhook" : null, sub.stream ? "stream" : null, sub.mode === "story" ? "one per story" : null].filter(Boolean).join(", ") || "—" }),
          el(
            "td",
            { class: "actions" },
            el("button", { type: "button", class: "quiet", onclick: () => this.edit(sub), text: "Edit", "aria-label": `Edit ${sub.name}` }),
            toggle,
            el("button", { type: "button", class: "danger", onclick: () => this.remove(sub), text: "Delete", "aria-label": `Delete ${sub.name}` }),
          ),
        );
      }),
    );
    $("#subs-table").hidden = !items.length;
    $("#subs-empty").hidden = Boolean(items.length);
  },

  async setStatus(sub, status) {
    try {
      await api(`/v1/subscriptions/${encodeURIComponent(sub.id)}`, {
        method: "PATCH",
        body: { status },
        headers: { "If-Match": `"${sub.version}"` },
      });
      flash(`${sub.name}: ${status === "paused" ? "paused" : "active"}.`);
    } catch (problem) {
      flash(`Could not change ${sub.name}: ${problem.message}`);
    }
    await this.load();
  },

  async remove(sub) {
    if (!window.confirm(`Delete the subscription “${sub.name}”?`)) return;
    try {
      await api(`/v1/subscriptions/${encodeURIComponent(sub.id)}`, {
        method: "DELETE",
        headers: { "If-Match": `"${sub.version}"` },
      });
      flash(`Deleted ${sub.name}.`);
    } catch (problem) {
      flash(`Could not delete ${sub.name}: ${problem.message}`);
    }
    await this.load();
  },

  form() {
    const form = $("#editor");
    return {
      name: form.elements.name.value.trim(),
      query: form.elements.query.value.trim() || null,
      topics: form.elements.topics.value.split(",").map((t) => t.trim()).filter(Boolean),
      min_score: Number(form.elements.min_score.value || 0),
      mode: form.elements.mode.value,
      webhook: form.elements.webhook.value.trim(),
      stream: form.elements.stream.checked,
    };
  },

  open(sub) {
    this.editing = sub;
    const form = $("#editor");
    form.reset();
    $("#editor-title").textContent = sub ? `Edit “${sub.name}”` : "New subscription";
    form.elements.name.value = sub ? sub.name : "";
    form.elements.query.value = sub && sub.query ? sub.query : "";
    form.elements.topics.value = sub ? sub.topics.join(", ") : "";
    form.elements.min_score.value = sub ? sub.min_score : 0;
    form.elements.mode.value = sub ? sub.mode : "every";
    form.elements.webhook.value = sub && sub.webhook ? sub.webhook.url : "";
    form.elements.stream.checked = sub ? sub.stream : true;
    $("#editor-error").textContent = "";
    $("#editor-secret").hidden = true;
    this.showQueryError(null);
    $("#preview-list").replaceChildren();
    $("#preview-status").textContent = "";
    form.hidden = false;
    form.elements.name.focus();
    this.preview();
  },

  edit(sub) {
    this.open(sub);
  },

  showQueryError(problem) {
    const box = $("#query-error");
    const field = $("#f-query");
    if (!problem) {
      box.replaceChildren();
      field.removeAttribute("aria-invalid");
      return;
    }
    field.setAttribute("aria-invalid", "true");
    const parts = [el("span", { text: problem.body.detail || problem.message })];
    const position = problem.body.position;
    if (typeof position === "number") {
      // The query with a caret under the character the parser stopped at.
      const query = field.value;
      const lineStart = query.lastIndexOf("\n", Math.max(0, position - 1)) + 1;
      let lineEnd = query.indexOf("\n", position);
      if (lineEnd < 0) lineEnd = query.length;
      const line = query.slice(lineStart, lineEnd);
      parts.push(el("code", { "data-position": String(position), text: `${line}\n${" ".repeat(position - lineStart)}^` }));
    }
    box.replaceChildren(...parts);
  },

  async preview() {
    const { query, topics, min_score } = this.form();
    const seq = ++this.previewSeq;
    const status = $("#preview-status");
    const list = $("#preview-list");
    if (!query && !topics.length) {
      this.showQueryError(null);
      list.replaceChildren();
      status.textContent = "Write a query or name topics to see what it would catch.";
      return;
    }
    status.textContent = "Checking…";
    let result;
    try {
      result = await api("/v1/preview", { method: "POST", body: { query, topics, min_score, limit: 20 } });
    } catch (problem) {
      if (seq !== this.previewSeq) return;
      list.replaceChildren();
      if (problem.status === 400 && problem.body.title === "Invalid Query") {
        this.showQueryError(problem);
        status.textContent = "Fix the query to see a preview.";
      } else {
        this.showQueryError(null);
        status.textContent = `No preview: ${problem.message}`;
      }
      return;
    }
    if (seq !== this.previewSeq) return; // a newer keystroke's answer wins
    this.showQueryError(null);
    const n = result.matches.length;
    status.textContent = `${n} of the ${result.articles_checked} most recent articles checked would match.`;
    list.replaceChildren(...result.matches.map((m) => this.match(m)));
  },

  match(m) {
    const terms = m.matched_terms;
    const title = m.url
      ? el("a", { href: m.url, rel: "noopener noreferrer", target: "_blank" }, highlighted(m.title, terms))
      : el("span", {}, highlighted(m.title, terms));
    return el(
      "li",
      { "data-article": m.article_id },
      el("div", { class: "headline" }, title),
      el("div", { class: "meta" }, el("span", { text: m.source || "" }), when(m.published_at), el("span", { text: `score ${m.score.toFixed(2)}` })),
      m.snippet ? el("p", { class: "snippet" }, highlighted(m.snippet, terms)) : null,
      el("div", {}, ...tags(m.matched_topics)),
      el("details", {}, el("summary", { text: "Why it matches" }), el("pre", { class: "explain", text: m.explanation.join("\n") || "Its topics match." })),
    );
  },

  async save(event) {
    event.preventDefault();
    const values = this.form();
    const error = $("#editor-error");
    error.textContent = "";
    if (!values.name) {
      error.textContent = "Give the subscription a name.";
      $("#f-name").focus();
      return;
    }
    const sub = this.editing;
    const body = {
      name: values.name,
      query: values.query,
      topics: values.topics,
      min_score: values.min_score,
      mode: values.mode,
      stream: values.stream,
    };
    if (values.webhook) {
      if (!sub || !sub.webhook || sub.webhook.url !== values.webhook) body.webhook = { url: values.webhook };
    } else if (sub && sub.webhook) {
      body.webhook = null;
    }
    let saved;
    try {
      saved = sub
        ? await api(`/v1/subscriptions/${encodeURIComponent(sub.id)}`, { method: "PATCH", body, headers: { "If-Match": `"${sub.version}"` } })
        : await api("/v1/subscriptions", { method: "POST", body });
    } catch (problem) {
      if (problem.status === 400 && problem.body.title === "Invalid Query") {
        this.showQueryError(problem);
        $("#f-query").focus();
      } else {
        error.textContent = problem.status === 412 ? "It changed meanwhile; reopen it and try again." : problem.message;
      }
      return;
    }
    await this.load();
    if (saved.webhook_secret) {
      // Shown once, as the API returns it once.
      const notice = $("#editor-secret");
      notice.textContent = `Webhook signing secret (shown once, store it now): ${saved.webhook_secret}`;
      notice.hidden = false;
      this.editing = this.items.get(saved.id) || null;
      flash(`Saved ${saved.name}.`);
      return;
    }
    $("#editor").hidden = true;
    flash(`Saved ${saved.name}.`);
    $("#new-sub").focus();
  },
};

// --- live alerts ----------------------------------------------------------------------------

const alerts = {
  stories: new Map(), // story key → {key, alerts: [newest first], node}
  seen: new Set(), // alert ids shown (a guard; the resume ids already prevent repeats)
  lastId: null,
  controller: null,
  running: false,
  filter: [], // the filter box's words, lower case: a story shows when it has every one

  // What the filter searches in a story: every outlet's title and source, the subscriptions
  // and the topics, lower case.
  searchText(story) {
    return story.alerts
      .flatMap((a) => [a.title, a.source, a.subscription_name, ...a.matched_topics])
      .join("\n")
      .toLowerCase();
  },

  setFilter(text) {
    this.filter = text.toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const story of this.stories.values()) if (this.applyFilter(story)) shown += 1;
    $("#alerts-filter-count").textContent = this.filter.length ? `${shown} of ${this.stories.size} stories` : "";
  },

  applyFilter(story) {
    const text = story.node ? story.node.dataset.search || "" : "";
    const visible = this.filter.every((word) => text.includes(word));
    if (story.node) story.node.hidden = !visible;
    return visible;
  },

  storyKey(alert) {
    return alert.story_id || `article:${alert.article_id}`;
  },

  async start() {
    this.stop();
    this.running = true;
    this.stories.clear();
    this.seen.clear();
    this.lastId = null;
    const list = $("#alerts-list");
    list.replaceChildren();
    this.state("Loading…", "");
    let page;
    for (let attempt = 1; ; attempt++) {
      try {
        page = await api("/v1/alerts?limit=1000");
        break;
      } catch (problem) {
        // A busy server (429: its alert reads are all taken) says when to come back: wait
        // that long (at most 10 s) a few times before giving up.
        if (problem.status === 429 && attempt < 5 && this.running) {
          this.state("The server is busy; trying again…", "");
          const seconds = Math.min(problem.retryAfter ?? 1, 10);
          await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
          if (!this.running) return;
          continue;
        }
        this.state(`Could not load alerts: ${problem.message}`, "down");
        this.running = false;
        return;
      }
    }
    if (!this.running) return;
    // Oldest first into their stories, then one render of every story, newest first.
    for (const item of [...page.items].reverse()) this.add(item.alert, false);
    const ordered = [...this.stories.values()].sort((a, b) => b.at - a.at);
    const fragment = document.createDocumentFragment();
    for (const story of ordered) fragment.append(this.render(story));
    list.append(fragment);
    if (this.filter.length) this.setFilter($("#alerts-filter").value);
    $("#alerts-empty").hidden = this.stories.size > 0;
    document.body.dataset.alertsLoaded = String(page.items.length);
    performance.mark("alerts-rendered");
    this.lastId = page.resume_id;
    this.follow();
  },

  stop() {
    this.running = false;
    if (this.controller) this.controller.abort();
    this.controller = null;
  },

  state(text, kind) {
    const pill = $("#stream-state");
    pill.textContent = text;
    pill.className = `pill ${kind}`;
  },

  add(alert, live) {
    if (this.seen.has(alert.alert_id)) return null;
    this.seen.add(alert.alert_id);
    const key = this.storyKey(alert);
    let story = this.stories.get(key);
    if (!story) {
      story = { key, alerts: [], node: null, at: 0 };
      this.stories.set(key, story);
    }
    story.alerts.unshift(alert);
    story.at = Date.parse(alert.created_at) || Date.now();
    if (live) {
      const node = this.render(story);
      node.classList.add("fresh");
      $("#alerts-list").prepend(node);
      $("#alerts-empty").hidden = true;
      if (this.filter.length) this.setFilter($("#alerts-filter").value);
    }
    return story;
  },

  render(story) {
    const [newest] = story.alerts;
    const outlets = new Map();
    for (const a of story.alerts) if (!outlets.has(a.article_id)) outlets.set(a.article_id, a);
    const subscriptions = [...new Set(story.alerts.map((a) => a.subscription_name))];
    const title = newest.url
      ? el("a", { href: newest.url, rel: "noopener noreferrer", target: "_blank" }, highlighted(newest.title, newest.matched_terms))
      : el("span", {}, highlighted(newest.title, newest.matched_terms));
    const explainId = `explain-${newest.alert_id}`;
    const explainBox = el("div", { class: "explain", id: explainId, hidden: true });
    const explainButton = el("button", {
      type: "button",
      class: "linkish",
      "aria-expanded": "false",
      "aria-controls": explainId,
      text: "Why this alert",
      onclick: () => this.explain(newest, explainButton, explainBox),
    });
    const parts = [
      el("div", { class: "headline" }, title),
      el("div", { class: "meta" }, el("span", { text: newest.source }), newest.language ? el("span", { class: "lang", title: "language", text: newest.language }) : null, when(newest.published_at), el("span", { text: subscriptions.join(", ") }), sentimentLabel(newest.sentiment)),
      el("div", {}, ...tags(newest.matched_topics)),
      el("div", { class: "row" }, explainButton),
      explainBox,
    ];
    if (outlets.size > 1) {
      const listId = `outlets-${newest.alert_id}`;
      const list = el(
        "ul",
        { class: "outlets", id: listId, hidden: true },
        ...[...outlets.values()].map((a) =>
          el("li", {}, el("strong", { text: a.source }), a.language ? ` (${a.language})` : null, " — ", a.url ? el("a", { href: a.url, rel: "noopener noreferrer", target: "_blank", text: a.title }) : a.title, " ", when(a.published_at)),
        ),
      );
      const toggle = el("button", {
        type: "button",
        class: "linkish",
        "aria-expanded": "false",
        "aria-controls": listId,
        text: `${outlets.size} outlets`,
        onclick: () => {
          const open = toggle.getAttribute("aria-expanded") !== "true";
          toggle.setAttribute("aria-expanded", String(open));
          list.hidden = !open;
        },
      });
      parts[3].append(toggle);
      parts.push(list);
    }
    const node = el("li", { "data-story": story.key, "data-article": newest.article_id }, ...parts);
    node.dataset.search = this.searchText(story);
    if (story.node) story.node.remove();
    story.node = node;
    this.applyFilter(story);
    return node;
  },

  async explain(alert, button, box) {
    const open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", String(open));
    box.hidden = !open;
    if (!open || box.dataset.loaded) return;
    box.replaceChildren(
      el("div", { text: `Topics: ${alert.matched_topics.join(", ") || "—"}` }),
      el("div", { text: `Matched terms: ${alert.matched_terms.join(", ") || "—"}` }),
    );
    try {
      const result = await api(`/v1/subscriptions/${encodeURIComponent(alert.subscription_id)}/test`, { method: "POST" });
      const match = result.matches.find((m) => m.article_id === alert.article_id);
      box.append(
        match
          ? el("pre", { text: match.explanation.join("\n") || "Its topics match." })
          : el("p", { class: "help", text: "The article is no longer among the recent ones the matcher keeps; the terms above are what matched." }),
      );
      box.dataset.loaded = "1";
    } catch (problem) {
      box.append(el("p", { class: "error", text: `No explanation: ${problem.message}` }));
    }
  },

  // Server-Sent Events over fetch (EventSource cannot send the Authorization header).
  async follow() {
    let delay = 1000;
    while (this.running) {
      this.controller = new AbortController();
      try {
        const headers = authHeaders({ Accept: "text/event-stream" });
        if (this.lastId) headers["Last-Event-ID"] = this.lastId;
        const response = await fetch("/v1/alerts/stream", { headers, signal: this.controller.signal });
        if (response.status === 401) {
          signOut("Your API key was refused; sign in again.");
          return;
        }
        if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
        this.state("Live", "live");
        delay = 1000;
        await this.read(response.body.getReader());
      } catch (error) {
        if (!this.running) return;
      }
      if (!this.running) return;
      this.state("Reconnecting…", "down");
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 10000);
    }
  },

  async read(reader) {
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        this.event(block);
      }
    }
  },

  event(block) {
    let id = null;
    let type = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "id") id = value;
      else if (field === "event") type = value;
      else if (field === "data") data.push(value);
    }
    if (type !== "alert" || !data.length) return;
    const alert = JSON.parse(data.join("\n"));
    // Counted for the tests and for anyone checking a resume: events over the stream, and
    // events whose alert was already shown (a resume that repeated; there should be none).
    const counts = document.body.dataset;
    counts.streamed = String(Number(counts.streamed || 0) + 1);
    if (this.seen.has(alert.alert_id)) counts.repeated = String(Number(counts.repeated || 0) + 1);
    this.add(alert, true);
    if (id) this.lastId = id; // after the alert is shown: a resume repeats nothing and skips nothing
  },
};

// --- delivery -------------------------------------------------------------------------------

const delivery = {
  async load() {
    const box = $("#delivery-list");
    let items;
    try {
      items = (await subscriptions.fetchAll()).filter((s) => s.webhook);
    } catch (problem) {
      flash(`Could not load subscriptions: ${problem.message}`);
      return;
    }
    $("#delivery-empty").hidden = items.length > 0;
    const cards = await Promise.all(items.map((sub) => this.card(sub)));
    box.replaceChildren(...cards);
  },

  async card(sub) {
    const headingId = `delivery-${sub.id}`;
    const card = el("section", { class: "card", "aria-labelledby": headingId, "data-id": sub.id });
    card.append(
      el("h3", { id: headingId, text: sub.name }),
      el("div", { class: "meta" }, el("span", { text: sub.webhook.url }), el("span", { class: `status-${sub.status}`, text: sub.status })),
    );
    if (sub.status_reason) card.append(el("p", { class: "help", text: sub.status_reason }));
    const result = el("p", { class: "help", role: "status", "aria-live": "polite" });
    const actions = el("div", { class: "row" });
    actions.append(
      el("button", {
        type: "button",
        class: "quiet",
        text: "Send test event",
        onclick: async () => {
          result.textContent = "Sending…";
          try {
            const attempt = await api(`/v1/subscriptions/${encodeURIComponent(sub.id)}/webhook/test`, { method: "POST" });
            result.textContent = `Test event: ${attempt.status ?? "no response"}${attempt.error ? ` (${attempt.error})` : ""}`;
          } catch (problem) {
            result.textContent = `Test event failed: ${problem.message}`;
          }
          this.refresh(sub, card);
        },
      }),
    );
    if (sub.status === "disabled") {
      actions.append(
        el("button", {
          type: "button",
          text: "Re-enable",
          onclick: async () => {
            try {
              await api(`/v1/subscriptions/${encodeURIComponent(sub.id)}`, { method: "PATCH", body: { status: "active" }, headers: { "If-Match": `"${sub.version}"` } });
              flash(`${sub.name} is active again.`);
            } catch (problem) {
              flash(`Could not re-enable ${sub.name}: ${problem.message}`);
            }
            this.load();
          },
        }),
      );
    }
    card.append(actions, result, el("div", { class: "attempts-box" }));
    await this.refresh(sub, card);
    return card;
  },

  async refresh(sub, card) {
    const box = $(".attempts-box", card);
    let info;
    try {
      info = await api(`/v1/subscriptions/${encodeURIComponent(sub.id)}/deliveries`);
    } catch (problem) {
      box.replaceChildren(el("p", { class: "error", text: `No delivery history: ${problem.message}` }));
      return;
    }
    const next = info.next_retry_at ? el("p", {}, "Next retry: ", when(info.next_retry_at)) : null;
    if (!info.attempts.length) {
      box.replaceChildren(...[next, el("p", { class: "help", text: "No attempts yet." })].filter(Boolean));
      return;
    }
    const rows = info.attempts.map((a) =>
      el(
        "tr",
        {},
        el("td", {}, when(a.at)),
        el("td", { text: a.test ? "test" : String(a.attempt) }),
        el("td", { text: a.status === null ? "—" : String(a.status) }),
        el("td", { text: a.verdict }),
        el("td", {}, a.next_attempt_at ? when(a.next_attempt_at) : "—"),
        el("td", { text: a.error || "" }),
      ),
    );
    const table = el(
      "table",
      { class: "list attempts" },
      el("caption", { class: "sr-only", text: `Recent attempts for ${sub.name}` }),
      el("thead", {}, el("tr", {}, ...["Time", "Attempt", "Status", "Outcome", "Next retry", "Error"].map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, ...rows),
    );
    box.replaceChildren(...[next, table].filter(Boolean));
  },
};

// --- wiring ---------------------------------------------------------------------------------

$("#signin-form").addEventListener("submit", signIn);
$("#sign-out").addEventListener("click", () => signOut("Signed out."));
$("#new-sub").addEventListener("click", () => subscriptions.open(null));
$("#cancel-edit").addEventListener("click", () => {
  $("#editor").hidden = true;
  $("#new-sub").focus();
});
$("#editor").addEventListener("submit", (event) => subscriptions.save(event));
$("#alerts-filter").addEventListener("input", (event) => alerts.setFilter(event.target.value));
const preview = debounce(() => subscriptions.preview(), 250);
for (const name of ["query", "topics", "min_score"]) {
  $("#editor").elements[name].addEventListener("input", preview);
}
window.addEventListener("hashchange", route);
route();
