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
