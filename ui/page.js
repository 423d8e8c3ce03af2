() => {
  // A citation marker is <sup class="pq-cite pq-ref-KEY-N">; the passage cards of that answer (in the message and in
  // the sources panel) carry the same pq-ref class. One delegated listener opens them, with no server round trip.
  if (window.__pqCitations) return;
  window.__pqCitations = true;
  const flash = (el) => {
    el.classList.remove("pq-flash");
    void el.offsetWidth;
    el.classList.add("pq-flash");
  };
  document.addEventListener("click", (ev) => {
    const target = ev.target instanceof Element ? ev.target : null;
    const cite = target && target.closest(".pq-cite");
    if (!cite) return;
    const ref = [...cite.classList].find((c) => c.startsWith("pq-ref-"));
    if (!ref) return;
    ev.preventDefault();
    ev.stopPropagation();
    const cards = [...document.querySelectorAll(`details.pq-source.${CSS.escape(ref)}`)];
    cards.forEach((card) => {
      card.open = true;
      flash(card);
    });
    const own = cite.closest(".message") || document;
    const near = cards.find((card) => own.contains(card)) || cards[0];
    if (near) near.scrollIntoView({ block: "nearest", behavior: "smooth" });
  }, true);
}
