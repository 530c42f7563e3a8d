// The chat home: Enter sends the first question (Shift+Enter starts a new line); the server
// starts the conversation, titled after it, and its page streams the answer.
(function () {
  "use strict";

  const form = document.getElementById("first-question");
  if (!form) return;
  const textarea = document.getElementById("question");
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (textarea.value.trim()) form.requestSubmit();
    }
  });
  form.addEventListener("submit", () => {
    document.getElementById("send").disabled = true;
  });
})();
