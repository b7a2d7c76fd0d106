// The door's small helpers that need no page.
import { test } from "node:test";
import assert from "node:assert/strict";

import { answerLines } from "../../tracker/static/js/door/util.js";

test("answers shown at the door are label: answer lines, in the order given", () => {
  assert.deepEqual(
    answerLines({
      answers: [
        { label: "Diet", value: "Vegetarian" },
        { label: "Speaker", value: "Yes" },
      ],
    }),
    ["Diet: Vegetarian", "Speaker: Yes"]
  );
});

test("no answers, or malformed ones, give no line", () => {
  assert.deepEqual(answerLines(null), []);
  assert.deepEqual(answerLines({}), []);
  assert.deepEqual(answerLines({ answers: "Diet" }), []);
  assert.deepEqual(
    answerLines({ answers: [null, { label: "Diet" }, { label: 3, value: "x" }, { label: "Empty", value: "" }] }),
    []
  );
});

test("markup in an answer stays text (the screen sets textContent)", () => {
  assert.deepEqual(answerLines({ answers: [{ label: "<b>L</b>", value: "<img src=x>" }] }), [
    "<b>L</b>: <img src=x>",
  ]);
});

test("the line follows the page's words, and braces in an answer stay as typed", () => {
  const r = { answers: [{ label: "Régime {value}", value: "{label} végétarien" }] };
  assert.deepEqual(answerLines(r, "{label}\u00a0: {value}"), ["Régime {value}\u00a0: {label} végétarien"]);
});
