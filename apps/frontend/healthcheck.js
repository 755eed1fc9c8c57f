// Container health check without curl: `node /app/healthcheck.js [PATH]`.
// Exits 0 when GET http://127.0.0.1:$PORT$PATH answers 200, 1 otherwise.
"use strict";

const http = require("node:http");

const port = Number(process.env.PORT || 3000);
const path = process.argv[2] || "/api/health";
const TIMEOUT_MS = 3000;

if (!path.startsWith("/")) {
  console.error(`healthcheck: path ${JSON.stringify(path)} must start with "/"`);
  process.exit(2);
}

const request = http.get({ host: "127.0.0.1", port, path, timeout: TIMEOUT_MS }, (response) => {
  response.resume();
  if (response.statusCode === 200) process.exit(0);
  console.error(`healthcheck: ${path} answered ${response.statusCode}`);
  process.exit(1);
});
request.on("timeout", () => {
  console.error(`healthcheck: no answer from ${path} within ${TIMEOUT_MS} ms`);
  request.destroy();
  process.exit(1);
});
request.on("error", (error) => {
  console.error(`healthcheck: ${error.message}`);
  process.exit(1);
});
