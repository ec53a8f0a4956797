// The review page: move through the fields with Tab or Enter, take a suggestion with "=", send only what
// changed. Every call goes to the same API a script would use; the page only reloads what it shows.
(() => {
  const form = document.getElementById("corrections");
  const message = document.querySelector("[data-testid=message]");
  const recordId = form ? form.dataset.record : location.pathname.split("/").pop();

  function say(text, isError) {
    message.textContent = text;
    message.classList.toggle("error", Boolean(isError));
  }

  async function call(path, body) {
    const response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
    if (!response.ok) {
      let detail = response.statusText;
      try {
        const data = await response.json();
        detail = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail);
      } catch (_) { /* not JSON */ }
      throw new Error(`${response.status}: ${detail}`);
    }
    return response.status === 204 ? null : response.json();
  }

  async function act(button, path, body, done) {
    const buttons = document.querySelectorAll("button");
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const result = await call(path, body);
      done(result);
    } catch (error) {
      say(error.message, true);
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  function reloadWith(notice) {
    sessionStorage.setItem("selfeval-notice", notice);
    location.reload();
  }
  const pending = sessionStorage.getItem("selfeval-notice");
  if (pending) { say(pending); sessionStorage.removeItem("selfeval-notice"); }

  const statusNames = { verified: "已核验", needs_review: "仍需复核", confirmed: "已确认（算术有误）" };

  document.querySelectorAll("[data-action=claim]").forEach((button) => button.addEventListener("click", () =>
    act(button, `/records/${recordId}/claim`, undefined, () => reloadWith("已认领"))));
  document.querySelectorAll("[data-action=release]").forEach((button) => button.addEventListener("click", () =>
    act(button, `/records/${recordId}/release`, undefined, () => reloadWith("已释放"))));

  // The page renders its action buttons disabled; each is enabled only once its handler is attached, so a
  // click made while the script is still loading is never lost (nor sent as a plain form submission).
  const enable = (selector) => document.querySelectorAll(selector).forEach((button) => { button.disabled = false; });
  enable("[data-action=claim], [data-action=release]");

  if (!form) return;
  const inputs = Array.from(form.querySelectorAll("input[name]"));
  const version = Number(form.dataset.version);
  const note = () => form.querySelector("#note").value.trim() || null;

  function take(input) {
    if (input.dataset.suggestion === undefined) return;
    input.value = input.dataset.suggestion;
    markChanged(input);
  }
  function markChanged(input) {
    // The same path may have two inputs (the field list and "show all fields"): keep them in step.
    form.querySelectorAll(`input[name="${CSS.escape(input.name)}"]`).forEach((twin) => {
      if (twin !== input) twin.value = input.value;
      twin.classList.toggle("changed", twin.value !== twin.dataset.original);
    });
  }

  function highlight(field) {
    document.querySelectorAll(".highlight").forEach((h) => { h.hidden = true; });
    if (!field || !field.dataset.box) return;
    const page = document.querySelector(`.page[data-page="${field.dataset.page}"]`);
    if (!page) return;
    const [x0, y0, x1, y1] = field.dataset.box.split(",").map(Number);
    const box = page.querySelector(".highlight");
    Object.assign(box.style, {
      left: `${x0 * 100}%`, top: `${y0 * 100}%`, width: `${(x1 - x0) * 100}%`, height: `${(y1 - y0) * 100}%`,
    });
    box.hidden = false;
    reveal(box);
  }

  // Only the scan pane scrolls to a field's box: scrolling the window too would push the page's
  // header and buttons away each time a field takes the focus.
  function reveal(box) {
    const pane = box.closest(".scan");
    if (!pane || pane.scrollHeight <= pane.clientHeight) return;
    const paneRect = pane.getBoundingClientRect();
    const boxRect = box.getBoundingClientRect();
    if (boxRect.top >= paneRect.top && boxRect.bottom <= paneRect.bottom) return;
    const offset = boxRect.top - paneRect.top - (pane.clientHeight - boxRect.height) / 2;
    pane.scrollBy({ top: offset, behavior: "smooth" });
  }

  inputs.forEach((input, index) => {
    input.addEventListener("input", () => markChanged(input));
    input.addEventListener("focus", () => highlight(input.closest(".field")));
    input.addEventListener("keydown", (event) => {
      if (event.key === "=" && input.dataset.suggestion !== undefined) {
        event.preventDefault();
        take(input);
      } else if (event.key === "Enter") {
        event.preventDefault();
        const next = inputs.slice(index + 1).find((candidate) => candidate.offsetParent !== null);
        (next || form.querySelector("[data-testid=save]")).focus();
      }
    });
  });
  form.querySelectorAll(".take").forEach((button) => button.addEventListener("click", () => {
    const input = button.closest(".field").querySelector("input");
    take(input);
    input.focus();
  }));

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const changed = new Map();
    inputs.forEach((input) => {
      if (input.value !== input.dataset.original) changed.set(input.name, input.value === "" ? null : input.value);
    });
    if (changed.size === 0) { say("没有修改任何字段", true); return; }
    const corrections = Array.from(changed, ([path, value]) => ({ path, value }));
    act(event.submitter, `/records/${recordId}/corrections`, { version, corrections, note: note() }, (record) =>
      reloadWith(`已保存第 ${record.record_version} 版：${statusNames[record.status] || record.status}`));
  });
  form.querySelector("[data-action=confirm]").addEventListener("click", (event) => {
    if (!confirm("确认表上数值与扫描件一致、是表内算术有误？")) return;
    act(event.target, `/records/${recordId}/confirm`, { version, note: note() }, (record) =>
      reloadWith(`已确认，第 ${record.record_version} 版`));
  });

  enable("#corrections button");
  const first = inputs[0];
  if (first) first.focus({ preventScroll: true });
})();
