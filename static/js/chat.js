// The chat page: streams answers over the conversation websocket, stops them, opens cited
// passages and sends feedback. Server-rendered turns use the same markup this script builds.
(function () {
  "use strict";

  const composer = document.getElementById("composer");
  const thread = document.getElementById("thread");
  const dialog = document.getElementById("passage-dialog");
  const live = document.getElementById("live");
  const guidance = JSON.parse(document.getElementById("error-guidance").textContent);
  const csrfToken = document.querySelector('meta[name="csrf-token"]').content;
  const CITATION = /\[(\d{1,2})\]/g;

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([key, value]) => {
      if (value === null || value === undefined || value === false) return;
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else node.setAttribute(key, value === true ? "" : value);
    });
    (children || []).forEach((child) => child && node.append(child));
    return node;
  }

  function announce(text) {
    live.textContent = "";
    window.setTimeout(() => { live.textContent = text; }, 50);
  }

  function sentenceFor(code, message, details) {
    const template = guidance[code] || guidance["default"];
    const values = Object.assign({ message: message || "", retry_after: "a few" }, details || {});
    return template.replace(/\{(\w+)\}/g, (match, key) => (key in values ? values[key] : match)).trim();
  }

  function money(value) {
    const number = Number(value || 0);
    return "$" + number.toFixed(4);
  }

  // --- citations: markers in the text, the sources list, and the passage dialog ----------------

  function citationsOf(answer) {
    if (answer._citations) return answer._citations;
    const script = document.getElementById(answer.dataset.citationsId || "");
    answer._citations = script ? JSON.parse(script.textContent) : [];
    return answer._citations;
  }

  function figuresOf(answer) {
    if (answer._figures) return answer._figures;
    const script = document.getElementById(answer.dataset.figuresId || "");
    answer._figures = script ? JSON.parse(script.textContent) : [];
    return answer._figures;
  }

  // --- Markdown: marked renders, DOMPurify sanitises, then markers and figures are marked up -----

  const FORBIDDEN_TAGS = [
    "img", "picture", "source", "video", "audio", "iframe", "object", "embed", "form", "input",
    "button", "textarea", "select", "style", "link", "meta", "svg", "math",
  ];
  if (window.DOMPurify) {
    window.DOMPurify.addHook("afterSanitizeAttributes", (node) => {
      if (node.tagName === "A" && node.hasAttribute("href")) {
        node.setAttribute("rel", "noopener noreferrer nofollow");
      }
    });
  }

  function markdownHtml(text) {
    if (!window.marked || !window.DOMPurify) return null;
    // Single line breaks stay line breaks, as answers (and offline quotes) are written.
    const html = window.marked.parse(text, { gfm: true, breaks: true, async: false });
    return window.DOMPurify.sanitize(html, { FORBID_TAGS: FORBIDDEN_TAGS, FORBID_ATTR: ["style"] }).trim();
  }

  function textNodes(container, skip) {
    const walker = document.createTreeWalker(container, NodeFilter.SHOW_TEXT, {
      acceptNode: (node) => (node.parentElement.closest(skip) ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT),
    });
    const nodes = [];
    while (walker.nextNode()) nodes.push(walker.currentNode);
    return nodes;
  }

  // Replace the [start, end) pieces of a text node with the elements `make` builds for them.
  function splice(node, pieces, make) {
    const text = node.textContent;
    const fragment = document.createDocumentFragment();
    let position = 0;
    pieces.forEach((piece) => {
      fragment.append(text.slice(position, piece.start), make(piece));
      position = piece.end;
    });
    fragment.append(text.slice(position));
    node.replaceWith(fragment);
  }

  function linkCitations(container, citations, messageId) {
    const known = new Set(citations.map((c) => Number(c.number)));
    textNodes(container, "a, code, pre").forEach((node) => {
      const pieces = Array.from(node.textContent.matchAll(CITATION))
        .filter((m) => known.has(Number(m[1])))
        .map((m) => ({ start: m.index, end: m.index + m[0].length, number: Number(m[1]) }));
      if (!pieces.length) return;
      splice(node, pieces, (p) => el("a", {
        class: "cite", href: "#src-" + messageId + "-" + p.number, "data-cite": p.number,
        "aria-label": "Source " + p.number, text: String(p.number),
      }));
    });
  }

  const VERDICT_WORDS = {
    supported: (f) => "Found in source " + f.source.replace(/[[\]]/g, ""),
    calculated: (f) => "Calculated: " + f.source,
    unsupported: () => "Not found in the cited sources",
  };
  const FIGURE_EDGE_BEFORE = /[\w.,$€£[\/]/;
  const FIGURE_EDGE_AFTER = /[\w\]]/;

  // Wrap each checked figure where it stands; the server counted repeats of the same text in
  // order (`occurrence`), and so does this walk.
  function markFigures(container, figures) {
    if (!figures.length) return;
    const wanted = new Map();
    figures.forEach((f) => wanted.set(f.text + "\u0000" + f.occurrence, f));
    const texts = Array.from(new Set(figures.map((f) => f.text)));
    const seen = {};
    textNodes(container, "a.cite, code, pre, .figure").forEach((node) => {
      const value = node.textContent;
      const found = [];
      texts.forEach((text) => {
        let at = value.indexOf(text);
        while (at !== -1) {
          const before = at > 0 ? value[at - 1] : "";
          const after = value[at + text.length] || "";
          if (!FIGURE_EDGE_BEFORE.test(before) && !FIGURE_EDGE_AFTER.test(after)) {
            found.push({ start: at, end: at + text.length, text });
          }
          at = value.indexOf(text, at + 1);
        }
      });
      found.sort((a, b) => a.start - b.start || b.end - a.end);
      const pieces = [];
      let reach = 0;
      found.forEach((m) => {
        if (m.start < reach) return;
        const occurrence = seen[m.text] || 0;
        seen[m.text] = occurrence + 1;
        const figure = wanted.get(m.text + "\u0000" + occurrence);
        if (!figure) return;
        pieces.push(Object.assign({ figure }, m));
        reach = m.end;
      });
      if (!pieces.length) return;
      splice(node, pieces, (p) => {
        const verdict = p.figure.verdict;
        const words = (VERDICT_WORDS[verdict] || VERDICT_WORDS.unsupported)(p.figure);
        const tag = verdict === "unsupported" ? "mark" : "span";
        const node = el(tag, { class: "figure figure-" + verdict, "data-verdict": verdict, title: words, text: p.text });
        if (verdict === "unsupported") {
          node.append(el("span", { class: "visually-hidden", text: " (not found in the cited sources)" }));
        }
        return node;
      });
    });
  }

  function figureSummary(figures) {
    const counts = { supported: 0, calculated: 0, unsupported: 0 };
    figures.forEach((f) => { counts[f.verdict] = (counts[f.verdict] || 0) + 1; });
    const parts = [];
    if (counts.supported) parts.push(counts.supported + " found in the sources");
    if (counts.calculated) parts.push(counts.calculated + " calculated");
    if (counts.unsupported) parts.push(counts.unsupported + " not found in the cited sources");
    const noun = figures.length === 1 ? "figure" : "figures";
    return el("p", {
      class: "figure-summary" + (counts.unsupported ? " figure-summary-warn" : ""),
      "data-unsupported": counts.unsupported,
      text: figures.length + " " + noun + " checked: " + parts.join(", ") + ".",
    });
  }

  function renderAnswerText(container, text, citations, figures) {
    const messageId = container.closest(".answer").dataset.messageId;
    const html = markdownHtml(text);
    if (html !== null) {
      container.innerHTML = html;
      container.classList.add("markdown");
      linkCitations(container, citations, messageId);
      markFigures(container, figures || []);
      return;
    }
    const known = new Set(citations.map((c) => Number(c.number)));
    container.textContent = "";
    let position = 0;
    for (const match of text.matchAll(CITATION)) {
      const number = Number(match[1]);
      if (!known.has(number)) continue;
      container.append(text.slice(position, match.index));
      container.append(el("a", {
        class: "cite", href: "#src-" + messageId + "-" + number, "data-cite": number,
        "aria-label": "Source " + number, text: String(number),
      }));
      position = match.index + match[0].length;
    }
    container.append(text.slice(position));
  }

  function renderSources(answer, citations) {
    const list = el("ol", { class: "sources", "aria-label": "Sources" });
    const messageId = answer.dataset.messageId;
    citations.forEach((c) => {
      const label = c.document + (c.page ? ", p. " + c.page : "");
      list.append(el("li", { id: "src-" + messageId + "-" + c.number }, [
        el("button", { type: "button", class: "source-open", "data-cite": c.number }, [
          el("span", { class: "src-n", text: String(c.number) }), " " + label,
        ]),
        el("details", { class: "source-text" }, [
          el("summary", { text: "Passage" }), el("blockquote", { text: c.text }),
        ]),
      ]));
    });
    return list;
  }

  function words(text) {
    return (text.toLowerCase().match(/[a-z0-9$][a-z0-9$.,%]*/g) || [])
      .map((w) => w.replace(/[.,]+$/, ""))
      .filter((w) => w.length > 3 || /\d/.test(w));
  }

  // The part of the passage the answer relies on: the cited clause verbatim when the answer
  // quotes it, else the passage's sentences that share its figures or most of its words.
  function highlightRanges(passage, answerText, number) {
    const marker = "[" + number + "]";
    const ranges = [];
    let from = 0;
    let at;
    while ((at = answerText.indexOf(marker, from)) !== -1) {
      const before = answerText.slice(0, at).replace(/\[\d{1,2}\]/g, "");
      const clause = before.split(/(?<=[.!?;:])\s+|\n+/).pop().trim().replace(/[.;:,]+$/, "");
      from = at + marker.length;
      if (clause.length < 8) continue;
      const exact = passage.indexOf(clause);
      if (exact !== -1) { ranges.push([exact, exact + clause.length]); continue; }
      const wanted = words(clause);
      const figures = wanted.filter((w) => /\d/.test(w));
      const sentencePattern = /[^.!?\n]+[.!?]?/g;
      let match;
      while ((match = sentencePattern.exec(passage)) !== null) {
        const sentence = words(match[0]);
        const shared = wanted.filter((w) => sentence.includes(w));
        const figureHit = figures.length && figures.every((f) => sentence.includes(f));
        if (figureHit || (wanted.length && shared.length / wanted.length >= 0.6)) {
          ranges.push([match.index, match.index + match[0].length]);
        }
      }
    }
    return ranges.sort((a, b) => a[0] - b[0]);
  }

  function fillPassage(target, passage, ranges) {
    target.textContent = "";
    let position = 0;
    ranges.forEach(([start, end]) => {
      if (start < position) start = position;
      if (end <= start) return;
      target.append(passage.slice(position, start), el("mark", { text: passage.slice(start, end) }));
      position = end;
    });
    target.append(passage.slice(position));
  }

  function openPassage(answer, number) {
    const citation = citationsOf(answer).find((c) => Number(c.number) === Number(number));
    if (!citation) return;
    const text = answer.querySelector(".answer-text").textContent;
    const rawText = answer._rawText || text;
    document.getElementById("passage-number").textContent = "Source " + citation.number;
    document.getElementById("passage-title").textContent = citation.document;
    const meta = [citation.source, citation.page ? "page " + citation.page : ""].filter(Boolean);
    document.getElementById("passage-meta").textContent = meta.join(" · ");
    const body = document.getElementById("passage-text");
    fillPassage(body, citation.text, highlightRanges(citation.text, rawText, citation.number));
    const link = document.getElementById("passage-link");
    if (citation.document_id) {
      const base = composerData("documentUrl").replace("/0/", "/" + citation.document_id + "/");
      const params = new URLSearchParams();
      if (citation.page) params.set("page", citation.page);
      if (citation.chunk_id) params.set("chunk", citation.chunk_id);
      link.href = base + "?" + params.toString() + (citation.chunk_id ? "#chunk-" + citation.chunk_id : "");
      link.hidden = false;
    } else {
      link.hidden = true;
    }
    const original = document.getElementById("passage-original");
    if (citation.document_id) {
      const params = new URLSearchParams();
      if (citation.page) params.set("page", citation.page);
      if (citation.chunk_id) params.set("chunk", citation.chunk_id);
      const quoted = Array.from(body.querySelectorAll("mark")).map((m) => m.textContent).join(" ");
      if (quoted) params.set("q", quoted.slice(0, 600));
      original.href = composerData("originalUrl").replace("/0/", "/" + citation.document_id + "/") + "?" + params.toString();
      original.hidden = false;
    } else {
      original.hidden = true;
    }
    dialog.showModal();
    const first = body.querySelector("mark");
    if (first) first.scrollIntoView({ block: "center" });
  }

  function composerData(name) {
    if (composer) return composer.dataset[name];
    return {
      documentUrl: "/documents/0/", originalUrl: "/documents/0/original/",
      feedbackUrl: "/api/v1/messages/0/feedback",
    }[name];
  }

  thread.addEventListener("click", (event) => {
    const trigger = event.target.closest("[data-cite]");
    if (!trigger) return;
    const answer = trigger.closest(".answer");
    if (!answer) return;
    event.preventDefault();
    openPassage(answer, trigger.dataset.cite);
  });

  // Server-rendered answers keep their raw text (markers included) for highlighting, and are
  // rendered from it exactly as a streamed answer is.
  thread.querySelectorAll(".answer").forEach((answer) => {
    const textNode = answer.querySelector(".answer-text");
    if (!textNode) return;
    answer._rawText = Array.from(textNode.childNodes)
      .map((n) => (n.nodeType === 1 && n.dataset.cite ? "[" + n.dataset.cite + "]" : n.textContent))
      .join("");
    renderAnswerText(textNode, answer._rawText, citationsOf(answer), figuresOf(answer));
  });

  // --- feedback ---------------------------------------------------------------------------------

  function chosen(box, field) {
    const pressed = box.querySelector('button.fb[data-field="' + field + '"][aria-pressed="true"]');
    return pressed ? pressed.dataset.value : null;
  }

  thread.addEventListener("click", async (event) => {
    const button = event.target.closest("button.fb");
    if (!button) return;
    const box = button.closest(".feedback");
    const status = box.querySelector(".fb-status");
    box.querySelectorAll('button.fb[data-field="' + button.dataset.field + '"]').forEach((b) => {
      b.setAttribute("aria-pressed", b === button ? "true" : "false");
    });
    const accuracy = chosen(box, "accuracy");
    const cost = chosen(box, "cost_efficiency");
    if (accuracy === null || cost === null) {
      status.textContent = accuracy === null ? "Now say whether it was accurate." : "Now rate its cost efficiency.";
      return;
    }
    const url = composerData("feedbackUrl").replace("/0/", "/" + box.dataset.feedbackFor + "/");
    status.textContent = "Saving...";
    try {
      const response = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken, Accept: "application/json" },
        body: JSON.stringify({ accuracy: accuracy === "true", cost_efficiency: Number(cost) }),
      });
      if (!response.ok) {
        const body = await response.json().catch(() => ({}));
        status.textContent = (body.error && body.error.message) || "Feedback could not be saved.";
        return;
      }
      status.textContent = "Feedback saved.";
    } catch (error) {
      status.textContent = "Feedback could not be saved: the server did not answer.";
    }
  });

  if (!composer) return;

  // --- streaming --------------------------------------------------------------------------------

  const textarea = document.getElementById("question");
  const sendButton = document.getElementById("send");
  const stopButton = document.getElementById("stop");
  const connection = document.getElementById("connection");
  const spentNode = document.getElementById("conversation-spent");
  let socket = null;
  let retryDelay = 1000;
  let current = null; // the turn being streamed

  function setStreaming(streaming) {
    stopButton.disabled = !streaming;
    sendButton.disabled = streaming;
    composer.dataset.state = streaming ? "streaming" : "idle";
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + composer.dataset.wsPath);
    socket.addEventListener("open", () => {
      retryDelay = 1000;
      connection.textContent = "";
      composer.dataset.connected = "true";
      // The first question, typed on the chat home, is sent once the page is connected.
      const pending = composer.dataset.pendingQuestion;
      if (pending) {
        delete composer.dataset.pendingQuestion;
        textarea.value = pending;
        ask();
      }
    });
    socket.addEventListener("message", (event) => handleFrame(JSON.parse(event.data)));
    socket.addEventListener("close", (event) => {
      composer.dataset.connected = "false";
      if (current) finishTurn("interrupted", null);
      if (event.code === 4401 || event.code === 4403) return; // the error frame said why
      connection.textContent = sentenceFor("connection_lost");
      window.setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 15000);
    });
  }

  function newTurn(question) {
    const empty = document.getElementById("empty-thread");
    if (empty) empty.remove();
    const answer = el("div", { class: "answer", "data-status": "streaming", "aria-busy": "true" }, [
      el("h3", { class: "turn-who", text: "Answer" }),
      el("p", { class: "answer-scope", hidden: true }),
      el("p", { class: "answer-progress muted", text: "Searching the documents..." }),
      el("div", { class: "answer-text" }),
    ]);
    const article = el("article", { class: "turn" }, [
      el("div", { class: "question" }, [
        el("h3", { class: "turn-who", text: "You" }),
        el("p", { class: "question-text", text: question }),
      ]),
      answer,
    ]);
    thread.append(article);
    article.scrollIntoView({ block: "end" });
    return { article, answer, question, text: "", citations: [], tools: [], figures: [], started: false };
  }

  function ask() {
    const question = textarea.value.trim();
    if (!question || current) return;
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      connection.textContent = "Not connected yet; trying again...";
      return;
    }
    current = newTurn(question);
    textarea.value = "";
    setStreaming(true);
    socket.send(JSON.stringify({ type: "ask", question }));
  }

  function stop() {
    if (!current || !socket || socket.readyState !== WebSocket.OPEN) return;
    socket.send(JSON.stringify({ type: "cancel" }));
    current.answer.querySelector(".answer-progress").textContent = "Stopping...";
  }

  function showScope(turn, frame) {
    const scope = frame.scope || {};
    const line = turn.answer.querySelector(".answer-scope");
    if (scope.description) {
      line.hidden = false;
      line.textContent = "Searched: " + scope.description;
    }
    const progress = turn.answer.querySelector(".answer-progress");
    progress.textContent = frame.offline
      ? "Offline mode: quoting the documents without a language model."
      : "Answering with " + (frame.chain || []).join(", then ") + "...";
    if (frame.offline) turn.answer.dataset.offline = "true";
  }

  function metaFooter(usage) {
    const items = [];
    if (usage.offline || usage.provider === "offline") {
      items.push(el("span", {
        class: "badge badge-offline", text: "Offline",
        title: "Answered without a language model: sentences quoted from your documents",
      }));
    }
    if (usage.provider) {
      items.push(el("span", { class: "meta-item", text: usage.provider + (usage.model ? " · " + usage.model : "") }));
    }
    items.push(el("span", { class: "meta-item", text: usage.input_tokens + " in / " + usage.output_tokens + " out tokens" }));
    items.push(el("span", { class: "meta-item", text: money(usage.cost_usd) }));
    (usage.failovers || []).forEach((f) => {
      items.push(el("span", {
        class: "badge badge-warn", title: f.reason || "",
        text: "Failed over: " + f.from + " → " + f.to + (f.reason ? " (" + f.reason + ")" : ""),
      }));
    });
    return el("footer", { class: "answer-meta" }, items);
  }

  function showUsage(answer, usage) {
    const footer = metaFooter(usage);
    const feedback = answer.querySelector(".feedback");
    if (feedback) feedback.before(footer); else answer.append(footer);
    if (spentNode) {
      spentNode.textContent = (Number(spentNode.textContent) + Number(usage.cost_usd || 0)).toFixed(4);
    }
  }

  async function savedUsage(messageId) {
    try {
      const response = await fetch(composer.dataset.conversationUrl, {
        credentials: "same-origin", headers: { Accept: "application/json" },
      });
      if (!response.ok) return null;
      const body = await response.json();
      const message = (body.messages || []).find((m) => String(m.id) === String(messageId));
      if (!message) return null;
      return Object.assign({}, message, { offline: message.provider === "offline", failovers: [] });
    } catch (error) {
      return null;
    }
  }

  function feedbackBox(messageId) {
    const box = el("div", { class: "feedback", "data-feedback-for": messageId });
    const accurate = el("div", { class: "fb-group", role: "group", "aria-label": "Was this answer accurate?" }, [
      el("span", { class: "fb-label", "aria-hidden": "true", text: "Accurate?" }),
      el("button", { type: "button", class: "fb", "data-field": "accuracy", "data-value": "true", "aria-pressed": "false", text: "Yes" }),
      el("button", { type: "button", class: "fb", "data-field": "accuracy", "data-value": "false", "aria-pressed": "false", text: "No" }),
    ]);
    const cost = el("div", { class: "fb-group", role: "group", "aria-label": "Cost efficiency, 1 poor to 5 excellent" }, [
      el("span", { class: "fb-label", "aria-hidden": "true", text: "Cost efficiency" }),
    ]);
    for (let n = 1; n <= 5; n += 1) {
      cost.append(el("button", {
        type: "button", class: "fb", "data-field": "cost_efficiency", "data-value": n,
        "aria-pressed": "false", "aria-label": "Cost efficiency " + n + " of 5", text: String(n),
      }));
    }
    box.append(accurate, cost, el("span", { class: "fb-status muted small", role: "status" }));
    return box;
  }

  function showError(turn, error) {
    const sentence = sentenceFor(error.code, error.message, error.details);
    const box = el("p", { class: "error-box", role: "alert", "data-code": error.code, text: sentence });
    if (error.code === "budget_exhausted") {
      box.append(" ", el("a", { href: "/usage/", text: "See what was spent" }));
    }
    turn.answer.append(box);
    turn.error = error;
  }

  // The server titles a conversation after its first question; show that without a reload.
  function nameConversation(question) {
    const title = question.slice(0, 120);
    const heading = document.getElementById("conversation-title");
    if (heading && heading.dataset.untitled === "true") {
      heading.textContent = title;
      heading.dataset.untitled = "false";
      document.title = title + " · FinRAG";
    }
    const current = document.querySelector('.conversation-list a[aria-current="page"] .c-title');
    if (current && current.dataset.untitled === "true") {
      current.textContent = title;
      current.dataset.untitled = "false";
    }
  }

  function finishTurn(status, messageId) {
    const turn = current;
    if (!turn) return;
    current = null;
    setStreaming(false);
    const answer = turn.answer;
    answer.removeAttribute("aria-busy");
    answer.dataset.status = status;
    const progress = answer.querySelector(".answer-progress");
    if (progress) progress.remove();
    if (messageId) {
      answer.dataset.messageId = messageId;
      turn.article.id = "turn-" + messageId;
    }
    answer._citations = turn.citations;
    answer._figures = turn.figures;
    answer._rawText = turn.text;
    if (turn.renderFrame) window.cancelAnimationFrame(turn.renderFrame);
    renderAnswerText(answer.querySelector(".answer-text"), turn.text, turn.citations, turn.figures);
    if (turn.figures.length) answer.querySelector(".answer-text").after(figureSummary(turn.figures));
    if (status === "interrupted") {
      answer.querySelector(".answer-text").after(el("p", { class: "note", text: "Stopped before the end; the partial answer is kept." }));
      announce("Answer stopped.");
    } else if (status === "complete") {
      announce("Answer complete" + (turn.citations.length ? ", with " + turn.citations.length + " sources." : "."));
    }
    if (turn.citations.length) answer.append(renderSources(answer, turn.citations));
    if (turn.tools.length) {
      const tools = el("ul", { class: "tools", "aria-label": "Calculations" });
      // The output reads "growth_percent(old=1373, new=1577) = 14.86", or "Error: ..." with the
      // arguments the model sent.
      turn.tools.forEach((t) => tools.append(el("li", {
        class: t.error ? "tool-error" : null,
        text: t.error ? t.name + "(" + JSON.stringify(t.arguments) + "): " + t.output : t.output,
      })));
      answer.append(tools);
    }
    if (turn.usage) {
      showUsage(answer, turn.usage);
    } else if (messageId) {
      // A stopped stream ends without a usage frame: read what was saved for it.
      savedUsage(messageId).then((usage) => usage && showUsage(answer, usage));
    }
    if (messageId && status !== "error") answer.append(feedbackBox(messageId));
    if (turn.started) nameConversation(turn.question);
    if (!turn.started && turn.error) {
      // Refused before anything was saved: give the question back so it can be sent again.
      turn.article.classList.add("turn-refused");
      answer.querySelector(".turn-who").textContent = "Not answered";
      if (!textarea.value) textarea.value = turn.question;
    }
    textarea.focus();
  }

  function handleFrame(frame) {
    const turn = current;
    switch (frame.type) {
      case "start":
        if (!turn) return;
        turn.started = true;
        showScope(turn, frame);
        announce("Answer started.");
        break;
      case "token":
        if (!turn) return;
        turn.text += frame.text;
        // Re-render the Markdown at most once a frame as tokens arrive.
        if (!turn.renderFrame) {
          turn.renderFrame = window.requestAnimationFrame(() => {
            turn.renderFrame = null;
            if (current === turn) renderAnswerText(turn.answer.querySelector(".answer-text"), turn.text, [], []);
          });
        }
        break;
      case "verification":
        if (turn) turn.figures = frame.figures || [];
        break;
      case "citation":
        if (turn) turn.citations.push(frame);
        break;
      case "tool":
        if (turn) turn.tools.push(frame);
        break;
      case "usage":
        if (turn) turn.usage = frame;
        break;
      case "end":
        finishTurn(frame.status === "error" ? "error" : frame.status, frame.message_id);
        break;
      case "error":
        if (!turn) {
          connection.textContent = sentenceFor(frame.error.code, frame.error.message, frame.error.details);
          return;
        }
        showError(turn, frame.error);
        announce(sentenceFor(frame.error.code, frame.error.message, frame.error.details));
        // Errors before the turn started end it here; later ones are followed by usage and end.
        if (!turn.started) finishTurn("error", null);
        break;
      default:
        break;
    }
  }

  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    ask();
  });
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      ask();
    } else if (event.key === "Escape" && current) {
      event.preventDefault();
      stop();
    }
  });
  stopButton.addEventListener("click", stop);
  setStreaming(false);
  connect();
})();
