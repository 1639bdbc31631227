// Small progressive enhancements; every page works without this file.
document.addEventListener("DOMContentLoaded", () => {
  // Move focus to the first invalid field so keyboard and screen-reader users land on the problem.
  // Else to a refusal the redirect brought ("This ticket changed meanwhile"), which a screen reader does
  // not read out by itself when the page loads with it.
  // Only what can be seen: a form hidden on the page (a closed ticket's merge box) takes no focus. (A
  // browser without checkVisibility, before 2024, takes every one as seen.)
  const seen = (element) => !element.checkVisibility || element.checkVisibility();
  const shown = (selector) => Array.from(document.querySelectorAll(selector)).filter(seen);
  const [invalid] = shown(".field-invalid input, .field-invalid select, .field-invalid textarea");
  if (invalid) invalid.focus();
  else if (!shown("[autofocus], [aria-invalid=true]").length) {
    // A refusal of the whole form (a stale save: "changed since you opened it") is in its error summary.
    // Else to what the redirect said was done ("T-1042 is marked as solved"): its live region is read
    // only when it changes, not when the page loads with it.
    const said =
      document.getElementById("refusals") || shown(".form-errors")[0] || shown(".messages[role=status]")[0];
    if (said) {
      if (!said.hasAttribute("tabindex")) said.setAttribute("tabindex", "-1");
      said.focus();
    }
  }

  // An action that works on the article as last saved (Submit for review, Publish, a restore...) while
  // the editor holds typing not saved: said, and nothing sent, rather than the typing lost unsaid.
  const editor = document.querySelector("form[data-keeps-typing]");
  if (editor) {
    let typed = false;
    editor.addEventListener("input", () => { typed = true; });
    editor.addEventListener("submit", () => { typed = false; });
    document.querySelectorAll("form[data-acts-on-saved]").forEach((action) => {
      action.addEventListener("submit", (event) => {
        if (!typed) return;
        event.preventDefault();
        const note = document.getElementById("unsaved-typing");
        note.hidden = false;
        note.focus();
      });
    });
  }

  // A second click on "Submit" while the first is on its way does nothing (the server also
  // de-duplicates by submission key, so this is only comfort).
  document.querySelectorAll("form[data-submit-once]").forEach((form) => {
    form.addEventListener("submit", () => {
      form.querySelectorAll("button[type=submit]").forEach((button) => {
        button.setAttribute("aria-disabled", "true");
        button.addEventListener("click", (event) => event.preventDefault());
      });
    });
  });
});

// An htmx request that fails (4xx/5xx other than the 409 and 422 the pages answer with a form) swaps
// nothing (see htmx-config in base.html), so say what happened; what was typed stays on the page.
const REQUEST_FAILED = {
  // Django answers 400 to a request it will not read (too many fields or too much data, a bad header).
  400: "The server could not accept what was sent (too much at once, or not as this page sends it), so nothing was saved. Copy what you typed, reload the page and try again.",
  403: "The page's security check has expired. Copy what you typed, reload the page and try again.",
  404: "That is no longer there, or no longer yours to see. Reload the page.",
  413: "That was too large to send, so nothing was saved. Send less at once (smaller or fewer files).",
  429: "Too many requests in a short time. Wait a minute, then try again.",
  503: "The helpdesk is down for maintenance, so nothing was saved. Try again in a few minutes.",
};

function sayRequestFailed(text) {
  let box = document.getElementById("request-failed");
  if (!box) {
    box = document.createElement("div");
    box.id = "request-failed";
    box.className = "messages";
    box.setAttribute("role", "alert");
    document.getElementById("main")?.prepend(box);
  }
  box.replaceChildren(Object.assign(document.createElement("p"), { className: "message message-error", textContent: text }));
}

document.body.addEventListener("htmx:responseError", (event) => {
  const status = event.detail.xhr.status;
  sayRequestFailed(REQUEST_FAILED[status] || "Something went wrong on our side and nothing was saved. Please try again in a moment.");
});
document.body.addEventListener("htmx:sendError", () => {
  sayRequestFailed("The server could not be reached. Check your connection; nothing was sent.");
});
document.body.addEventListener("htmx:afterRequest", (event) => {
  if (event.detail.successful) document.getElementById("request-failed")?.remove();
});

// A swap that removed the focused element (the Send button of a reply, a Save of an inline edit)
// leaves keyboard and screen-reader users at the top of the page. Put the focus back in the part
// that was swapped: on the first field with an error, else on the part itself. Swaps that did not hold
// the focus (the queue's 30-second refresh of an idle page) leave it alone.
let swappedId = "";
let hadFocus = false;
document.body.addEventListener("htmx:beforeSwap", (event) => {
  const target = event.detail.target;
  swappedId = target && target.contains(document.activeElement) ? target.id : "";
  hadFocus = Boolean(document.activeElement) && document.activeElement !== document.body;
});
document.body.addEventListener("htmx:afterSettle", (event) => {
  const focused = document.activeElement;
  const lost = !focused || focused === document.body;
  // htmx puts the focus back on an element that kept its id (the Send button); after a refusal (422)
  // the field to correct is the place for it all the same.
  const refused = event.detail.xhr && event.detail.xhr.status === 422;
  if (!swappedId) {
    // The focus was in a part swapped out of band (the audit trail's filter form, refused): go to
    // the field to correct rather than the top of the page.
    if (hadFocus && lost && refused) document.querySelector("[aria-invalid=true]")?.focus();
    hadFocus = false;
    return;
  }
  const part = document.getElementById(swappedId);
  swappedId = "";
  hadFocus = false;
  if (!part) return;
  const invalid = part.querySelector("[aria-invalid=true], .field-invalid input, .field-invalid textarea, .field-invalid select");
  if (invalid && (lost || (refused && part.contains(focused)))) {
    invalid.focus();
    return;
  }
  if (!lost) return;
  if (!part.hasAttribute("tabindex")) part.setAttribute("tabindex", "-1");
  part.focus({ preventScroll: true }); // the page stays where the swap left it
});
