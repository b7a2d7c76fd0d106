// ESLint for the browser code (ES modules loaded as they are, no build step) and its
// unit tests (Node's test runner). `make lint` runs it.
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["tracker/static/vendor/**", "tests/e2e/vendor/**", "node_modules/**", ".venv/**"] },
  js.configs.recommended,
  {
    files: ["tracker/static/js/door.js", "tracker/static/js/door/**/*.js", "tracker/static/js/download.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: { ...globals.browser } },
    rules: {
      "no-unused-vars": ["error", { args: "after-used", argsIgnorePattern: "^_" }],
      eqeqeq: ["error", "always"],
      "no-var": "error",
      "prefer-const": "error",
    },
  },
  {
    files: ["tracker/static/js/door-sw.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "script", globals: { ...globals.serviceworker } },
  },
  {
    // The pages' other scripts are classic scripts (one function each, no modules yet).
    files: [
      "tracker/static/js/fields.js",
      "tracker/static/js/questions.js",
      "tracker/static/js/register.js",
      "tracker/static/js/stats.js",
      "tracker/static/js/delegation.js",
    ],
    languageOptions: { ecmaVersion: 2022, sourceType: "script", globals: { ...globals.browser } },
  },
  {
    files: ["tests/js/**/*.js", "eslint.config.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: { ...globals.node } },
  },
];
