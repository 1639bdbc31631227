// Agent desk keyboard shortcuts (shown with "?"). The desk works fully without this file.
(() => {
  // htmx runs this file again when Back restores a desk page from its history (the script is in the
  // page's body): the listeners below are on the document already, so only the page is shown again.
  if (window.helpdeskDesk) return;
  window.helpdeskDesk = true;
  const helpDialog = () => document.getElementById("shortcuts-help");
  const pageShown = [];
  const rows = () => Array.from(document.querySelectorAll("[data-ticket-row]"));
  let current = -1;

  function select(index, focus = true) {
    const list = rows();
    if (!list.length) return;
    current = Math.max(0, Math.min(index, list.length - 1));
    list.forEach((row, i) => row.classList.toggle("selected", i === current));
    const link = list[current].querySelector("[data-ticket-link]");
    if (link && focus) link.focus();
  }

  function compose(kind) {
    const radio = document.getElementById(kind === "note" ? "kind-note" : "kind-reply");
    if (!radio) return false;
    // A closed ticket offers notes only: "r" then opens the note rather than ticking a disabled reply.
    if (!radio.disabled) radio.checked = true;
    const body = document.querySelector("#composer textarea");
    if (body) body.focus();
    return true;
  }

  function click(selector) {
    const element = document.querySelector(selector);
    if (element) element.click();
    return Boolean(element);
  }

  document.addEventListener("click", (event) => {
    if (event.target.closest("[data-help-open]")) helpDialog()?.showModal();
    const insert = event.target.closest("[data-insert-link]");
    const body = document.querySelector("#composer textarea");
    if (insert && body) {
      // Put the article's markdown link where the cursor is; sending the reply counts a use.
      const link = insert.dataset.insertLink;
      const at = body.selectionStart ?? body.value.length;
      body.value = body.value.slice(0, at) + link + body.value.slice(body.selectionEnd ?? at);
      body.focus();
      body.selectionStart = body.selectionEnd = at + link.length;
    }
  });

  // A setting kept in this browser, on unless switched off with its checkbox (shown here: the
  // checkbox is hidden on pages without this file, whose behaviour it would not control).
  function browserSetting(key, settingSelector, toggleId) {
    const isOn = () => window.localStorage.getItem(key) !== "off";
    pageShown.push(() => {
      const setting = document.querySelector(settingSelector);
      const toggle = document.getElementById(toggleId);
      if (setting && toggle) {
        setting.hidden = false;
        toggle.checked = isOn();
      }
    });
    document.addEventListener("change", (event) => {
      if (event.target.id !== toggleId) return;
      if (event.target.checked) window.localStorage.removeItem(key);
      else window.localStorage.setItem(key, "off");
    });
    return isOn;
  }

  // Single-key shortcuts can be turned off in the help dialog (WCAG 2.1.4).
  const shortcutsOn = browserSetting("helpdesk.desk-shortcuts", "[data-shortcuts-setting]", "shortcuts-on");

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (!shortcutsOn()) return;
    if (helpDialog()?.open) return; // the dialog has the keyboard; Escape closes it
    // A ticked row's checkbox keeps j/k working; every other field takes the letters typed.
    const typing = event.target.closest(
      "input:not([type=checkbox]):not([type=radio]), textarea, select, [contenteditable]",
    );
    if (typing) {
      if (event.key === "Escape") {
        // Chrome empties a search box on Escape and fires "search", which would refilter the queue
        // without the words typed: Escape leaves the box (as the help says) and keeps them.
        if (event.target.type === "search") event.preventDefault();
        event.target.blur();
      }
      return;
    }
    let handled = true;
    switch (event.key) {
      case "j": if (!click("[data-shortcut-next]")) select(current + 1); break;
      case "k": if (!click("[data-shortcut-previous]")) select(current - 1); break;
      case "o":
      case "Enter": {
        // Enter on a control does what that control does (a ticket's own link opens that ticket);
        // only with the focus outside every control does it open the selected row.
        if (event.key === "Enter" && event.target.closest("a, button, summary, input, label")) {
          handled = false;
          break;
        }
        const row = rows()[current];
        if (row) window.location.href = row.dataset.href; else handled = false;
        break;
      }
      case "x": {
        const box = rows()[current]?.querySelector("input[name=tickets]");
        if (box) box.click(); else handled = false;
        break;
      }
      case "r": handled = compose("reply"); break;
      case "n": handled = compose("note"); break;
      case "a": handled = click("[data-shortcut-take]"); break;
      case "/": {
        const search = document.querySelector("[data-shortcut-search]");
        // From a ticket, "/" searches the queue it was opened from.
        const queue = document.querySelector("[data-shortcut-queue]");
        if (search) search.focus(); else window.location.href = (queue ? queue.href : "/desk/") + "#queue-q";
        break;
      }
      case "?": {
        const help = helpDialog();
        if (help) help.showModal(); else handled = false;
        break;
      }
      default: handled = false;
    }
    if (handled) event.preventDefault();
  });

  // "Select every ticket on this page": ticks or unticks every row, and shows whether some, all or
  // none are ticked (indeterminate for some).
  function selectAllState() {
    const all = document.querySelector("[data-select-all]");
    if (!all) return;
    all.hidden = false;
    const boxes = Array.from(document.querySelectorAll("input[name=tickets]"));
    const ticked = boxes.filter((box) => box.checked).length;
    all.checked = boxes.length > 0 && ticked === boxes.length;
    all.indeterminate = ticked > 0 && ticked < boxes.length;
  }
  document.addEventListener("change", (event) => {
    if (event.target.matches("[data-select-all]")) {
      document.querySelectorAll("input[name=tickets]").forEach((box) => { box.checked = event.target.checked; });
    }
    if (event.target.matches("[data-select-all], input[name=tickets]")) selectAllState();
  });
  pageShown.push(selectAllState);
  document.body.addEventListener("htmx:afterSwap", selectAllState);

  // The 30-second refresh can be switched off (WCAG 2.2.2).
  const refreshOn = browserSetting("helpdesk.queue-refresh", "[data-refresh-setting]", "queue-refresh-on");

  // The refresh also waits while the agent is working in the table: a swap would untick the tickets
  // chosen for a bulk action and take the focus away. It runs on the next tick after that.
  document.body.addEventListener("htmx:beforeRequest", (event) => {
    const table = event.detail.elt;
    if (table.id !== "queue-table") return;
    if (!refreshOn() || table.querySelector("input[name=tickets]:checked") || table.contains(document.activeElement)) {
      event.preventDefault();
    }
  });

  // A table swiped sideways on a phone (its columns scroll in their box) stays where it was read when
  // the refresh swaps it, instead of jumping back to its first column.
  let scrolledAside = 0;
  document.body.addEventListener("htmx:beforeSwap", (event) => {
    if (event.detail.target.id !== "queue-table") return;
    const refresh = event.detail.requestConfig?.elt?.id === "queue-table";
    scrolledAside = refresh ? event.detail.target.querySelector(".table-wrap")?.scrollLeft ?? 0 : 0;
  });
  document.body.addEventListener("htmx:afterSwap", (event) => {
    const wrap = event.target.id === "queue-table" && scrolledAside ? event.target.querySelector(".table-wrap") : null;
    if (wrap) wrap.scrollLeft = scrolledAside;
  });

  // A refresh that brings back what is on screen (the view answered 304, the browser hands htmx its
  // cached copy) swaps nothing: a screen reader reading the table keeps its place.
  let shownVersion = null;
  document.body.addEventListener("htmx:beforeSwap", (event) => {
    if (event.detail.target.id !== "queue-table") return;
    const version = event.detail.xhr.getResponseHeader("ETag");
    if (event.detail.requestConfig?.elt?.id === "queue-table" && version && version === shownVersion) {
      event.detail.shouldSwap = false;
    }
    shownVersion = version;
  });

  // After htmx swaps the table, keep the selection on the same position, and the focus where it was:
  // an agent typing in the search box while the table refreshes keeps typing there (a stolen focus
  // would turn the next letters into shortcuts).
  let focusWasInTable = false;
  document.body.addEventListener("htmx:beforeSwap", (event) => {
    if (event.detail.target.id === "queue-table") {
      focusWasInTable = event.detail.target.contains(document.activeElement);
    }
  });
  document.body.addEventListener("htmx:afterSwap", (event) => {
    if (event.target.id === "queue-table" && current >= 0) select(current, focusWasInTable);
  });

  // What only works with this file is shown by it: the shortcuts' help, the settings, "select all".
  pageShown.push(() => {
    document.querySelectorAll("[data-help-open], [data-needs-script]").forEach((control) => { control.hidden = false; });
  });
  const showPage = () => pageShown.forEach((show) => show());
  showPage();
  document.body.addEventListener("htmx:historyRestore", () => {
    current = -1; // the rows are the restored page's
    showPage();
  });
})();
