() => {
  // A citation marker is <sup class="pq-cite pq-ref-KEY-N">; the passage card of that answer, in the collapsed
  // "引用原文" group under it, carries the same pq-ref class. One delegated listener opens it, no server round trip.
  if (window.__pqPage) return;
  window.__pqPage = true;
  const flash = (el) => {
    el.classList.remove("pq-flash");
    void el.offsetWidth;
    el.classList.add("pq-flash");
  };
  // The chat's own scroll box: scrolling it (not the window) keeps the header and the input where they are.
  const scroller = (el) => {
    for (let node = el.parentElement; node && node.id !== "pq-chat"; node = node.parentElement) {
      const style = getComputedStyle(node);
      if (/(auto|scroll)/.test(style.overflowY) && node.scrollHeight > node.clientHeight) return node;
    }
    return null;
  };
  const scrollWithin = (el, margin) => {
    const box = scroller(el);
    if (!box) return;
    const top = el.getBoundingClientRect().top - box.getBoundingClientRect().top;
    box.scrollTop += top - margin;
  };
  document.addEventListener("click", (ev) => {
    const target = ev.target instanceof Element ? ev.target : null;
    const cite = target && target.closest(".pq-cite");
    if (!cite) return;
    const ref = [...cite.classList].find((c) => c.startsWith("pq-ref-"));
    if (!ref) return;
    ev.preventDefault();
    ev.stopPropagation();
    const own = cite.closest(".message") || document;
    const cards = [...document.querySelectorAll(`details.pq-source.${CSS.escape(ref)}`)];
    const card = cards.find((c) => own.contains(c)) || cards[0];
    if (!card) return;
    const group = card.closest("details.pq-sources-inline");
    if (group) group.open = true;
    card.open = true;
    flash(card);
    requestAnimationFrame(() => scrollWithin(card, 12));
  }, true);

  // When a question is sent, bring it to the top of the chat even if the reader had scrolled up to an older
  // answer; otherwise the new answer streams in below the fold behind a small arrow.
  let pending = 0;
  const userCount = () => document.querySelectorAll('#pq-chat [data-testid="user"]').length;
  let seen = userCount();
  const arm = () => { pending = Date.now(); seen = userCount(); };
  document.addEventListener("keydown", (ev) => {
    const box = ev.target instanceof Element ? ev.target.closest("#pq-question") : null;
    if (box && ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) arm();
  }, true);
  document.addEventListener("click", (ev) => {
    const target = ev.target instanceof Element ? ev.target : null;
    if (target && target.closest("#pq-send, .pq-example, .pq-summary-btn")) arm();
  }, true);
  // Pinned until the answer is final: each update re-applies the scroll (the first one can be clamped while the
  // chat below the question is still short). A reader scrolling or clicking in the chat takes over at once.
  let pinned = null;
  const finished = () => {
    const bots = document.querySelectorAll('#pq-chat [data-testid="bot"]');
    const last = bots[bots.length - 1];
    return last && !last.querySelector(".pq-thinking, .pq-caret");
  };
  const follow = () => {
    if (pending && Date.now() - pending > 15000) pending = 0;
    const users = document.querySelectorAll('#pq-chat [data-testid="user"]');
    if (pending && users.length > seen) {
      pending = 0;
      seen = users.length;
      const last = users[users.length - 1];
      pinned = last.closest(".message-row") || last;
    }
    if (!pinned) return;
    const el = pinned;
    requestAnimationFrame(() => scrollWithin(el, 8));
    if (finished()) setTimeout(() => { if (pinned === el) { scrollWithin(el, 8); pinned = null; } }, 350);
  };
  const release = () => { pinned = null; };
  const watch = () => {
    const chat = document.querySelector("#pq-chat");
    if (!chat) { setTimeout(watch, 200); return; }
    new MutationObserver(follow).observe(chat, {subtree: true, childList: true, characterData: true});
    for (const kind of ["wheel", "touchstart", "pointerdown"]) chat.addEventListener(kind, release, {passive: true});
  };
  watch();
}
