// Buttons in list rows that POST (retry a refill, a cancel) without nesting forms in the
// changelist's own form: build a small form with the CSRF token and submit it.
document.addEventListener("click", (event) => {
  const button = event.target.closest("button.bo-post");
  if (!button) return;
  event.preventDefault();
  const token = document.querySelector("[name=csrfmiddlewaretoken]");
  const form = document.createElement("form");
  form.method = "post";
  form.action = button.dataset.url;
  if (token) {
    const input = document.createElement("input");
    input.type = "hidden";
    input.name = "csrfmiddlewaretoken";
    input.value = token.value;
    form.appendChild(input);
  }
  document.body.appendChild(form);
  form.submit();
});

// Forms that ask before they submit: <form data-confirm="Ban them?">. A submit button in another
// part of the page (form="bo-ban") submits the form, so the question is asked on the form.
document.addEventListener("submit", (event) => {
  const question = event.target.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});

// The import page: "select all", and how many rows are selected. The page writes "N selected"
// for every N in the reader's language (data-texts, a JSON list indexed by N), plural forms and all.
(() => {
  const all = document.getElementById("bo-all");
  const counter = document.getElementById("bo-count");
  if (!all || !counter) return;
  let texts = [];
  try { texts = JSON.parse(counter.dataset.texts || "[]"); } catch (error) { texts = []; }
  const boxes = () => [...document.querySelectorAll("#bo-import-rows tbody input[type=checkbox]")];
  const count = () => {
    const ticked = boxes().filter((b) => b.checked).length;
    counter.textContent = texts[ticked] !== undefined ? texts[ticked] : String(ticked);
  };
  all.addEventListener("change", () => { boxes().forEach((b) => { b.checked = all.checked; }); count(); });
  boxes().forEach((b) => b.addEventListener("change", count));
})();
// The language picker sends its form on change (its button stays for browsers without script).
document.documentElement.classList.add("js");
document.addEventListener("change", (event) => {
  if (event.target.matches("select[data-autosubmit]")) event.target.form.submit();
});
